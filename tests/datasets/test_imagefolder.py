"""Image folders: layouts, derived properties, bad data, and a study run end to end."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from scalesearch.errors import DataError, DataWarning, SpecError
from scalesearch.search.config import attrs
from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.datasets import clear_memory_cache, load_dataset
from scalesearch.search.datasets.recorded import split_record
from scalesearch.search.datasets.spec import DatasetSpec
from tests.datasets_helpers import TINY_SPACE, digits, digits_folder, write_folder


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALESEARCH_CACHE", str(tmp_path / "cache"))
    clear_memory_cache()
    yield
    clear_memory_cache()


def folder_spec(root, **kw) -> DatasetSpec:
    return DatasetSpec(kind="imagefolder", root=str(root), **kw)


def test_class_folders_give_names_size_channels_and_a_stratified_split(tmp_path):
    root = digits_folder(tmp_path / "imgs", per_class=10, classes=3)
    data = load_dataset(folder_spec(root))
    assert data.name == "imgs"
    assert data.class_names == ("digit_0", "digit_1", "digit_2")
    assert (data.num_classes, data.in_chans, data.input_size) == (3, 1, 8)
    assert (len(data.train), len(data.val), len(data.test)) == (18, 6, 6)
    for split in (data.train, data.val, data.test):
        assert np.bincount(split.y.numpy(), minlength=3).min() >= 2  # stratified
    x = data.train.x
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 0.05  # normalised by train stats


def test_pixels_survive_the_png_round_trip(tmp_path):
    images, labels = digits(4, 2)
    root = write_folder(tmp_path / "imgs", images, labels)
    data = load_dataset(folder_spec(root, mean=(0.0,), std=(1.0,)))
    decoded = sorted(tuple((s.x[i, 0] * 255).round().int().flatten().tolist())
                     for s in (data.train, data.val, data.test) for i in range(len(s)))
    assert decoded == sorted(tuple(im.astype(int).flatten().tolist()) for im in images)


def test_colour_images_and_input_size_override(tmp_path):
    root = digits_folder(tmp_path / "imgs", per_class=6, classes=2, mode="RGB", suffix=".jpg")
    data = load_dataset(folder_spec(root, input_size=12))
    assert (data.in_chans, data.input_size, tuple(data.train.x.shape[1:])) == (3, 12, (3, 12, 12))
    grey = load_dataset(folder_spec(root, in_chans=1))
    assert grey.in_chans == 1 and grey.train.x.shape[1] == 1


def test_mixed_sizes_are_resized_to_the_median_shorter_side(tmp_path):
    images, labels = digits(10, 2)
    root = tmp_path / "imgs"
    write_folder(root, images[:6], labels[:6], size=16, prefix="big")
    write_folder(root, images[6:14], labels[6:14], size=12, prefix="mid")
    write_folder(root, images[14:], labels[14:], prefix="small")
    data = load_dataset(folder_spec(root))
    assert data.input_size == 12 and tuple(data.train.x.shape[-2:]) == (12, 12)


def test_explicit_val_and_test_folders_are_respected(tmp_path):
    images, labels = digits(12, 3)
    for part, sl in (("train", slice(0, None, 3)), ("val", slice(1, None, 3)), ("test", slice(2, None, 3))):
        write_folder(tmp_path / "imgs" / part, images[sl], labels[sl])
    data = load_dataset(folder_spec(tmp_path / "imgs"))
    assert (len(data.train), len(data.val), len(data.test)) == (12, 12, 12)
    assert data.split_record["sizes"] == {"train": 12, "val": 12, "test": 12}


def test_explicit_val_without_test_carves_test_from_train(tmp_path):
    images, labels = digits(12, 3)
    write_folder(tmp_path / "imgs" / "train", images[::2], labels[::2])
    write_folder(tmp_path / "imgs" / "val", images[1::2], labels[1::2])
    data = load_dataset(folder_spec(tmp_path / "imgs", test_fraction=1 / 3))
    assert (len(data.train), len(data.val), len(data.test)) == (12, 18, 6)


def test_class_mismatch_between_train_and_val_is_a_clear_error(tmp_path):
    images, labels = digits(6, 3)
    write_folder(tmp_path / "imgs" / "train", images, labels)
    write_folder(tmp_path / "imgs" / "val", images[labels < 2], labels[labels < 2])
    with pytest.raises(DataError, match=r"val/ and train/ have different classes \(missing in val/: digit_2"):
        load_dataset(folder_spec(tmp_path / "imgs"))


def test_empty_class_folder_is_a_clear_error(tmp_path):
    root = digits_folder(tmp_path / "imgs", per_class=4, classes=2)
    (root / "empty_class").mkdir()
    (root / "empty_class" / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match="empty_class holds no images"):
        load_dataset(folder_spec(root))


def test_single_class_is_a_clear_error(tmp_path):
    root = digits_folder(tmp_path / "imgs", per_class=4, classes=1)
    with pytest.raises(DataError, match="single class"):
        load_dataset(folder_spec(root))


def test_missing_root_and_loose_images_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="is not a folder"):
        load_dataset(folder_spec(tmp_path / "nope"))
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.png").write_bytes(b"")
    with pytest.raises(DataError, match="no class folders"):
        load_dataset(folder_spec(tmp_path / "flat"))
    with pytest.raises(SpecError, match="needs root"):
        load_dataset(DatasetSpec(kind="imagefolder"))


def corrupt(root):
    bad = root / "digit_1" / "00099.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    return bad


def test_corrupt_image_fails_by_default_naming_the_file(tmp_path):
    root = digits_folder(tmp_path / "imgs", per_class=6, classes=2)
    bad = corrupt(root)
    with pytest.raises(DataError, match=rf"cannot read image {bad}.*on_corrupt: skip"):
        load_dataset(folder_spec(root))


def test_corrupt_image_is_skipped_with_a_warning_when_asked(tmp_path):
    root = digits_folder(tmp_path / "imgs", per_class=6, classes=2)
    bad = corrupt(root)
    with pytest.warns(DataWarning, match=f"skipped 1 unreadable image \\(dataset.on_corrupt: skip\\): {bad}") as caught:
        data = load_dataset(folder_spec(root, on_corrupt="skip"))
    assert len(data.train) + len(data.val) + len(data.test) == 12
    assert len(caught) == 1  # one line, as people read it: no file:line, no source
    text = warnings.formatwarning(caught[0].message, caught[0].category, caught[0].filename, caught[0].lineno)
    assert text == f"warning: {caught[0].message}\n" and "UserWarning" not in text
    clear_memory_cache()  # a second worker reads the cache and still hears about the file
    with pytest.warns(DataWarning, match="00099.png"):
        load_dataset(folder_spec(root, on_corrupt="skip"))


def test_truncated_image_is_caught_at_decode_time(tmp_path):
    root = digits_folder(tmp_path / "imgs", per_class=6, classes=2, size=32)
    victim = root / "digit_0" / "00000.png"
    victim.write_bytes(victim.read_bytes()[:60])  # a valid header, pixels cut off
    with pytest.raises(DataError, match="00000.png"):
        load_dataset(folder_spec(root))


def test_a_study_runs_end_to_end_on_an_image_folder(tmp_path):
    from scalesearch.search.study.study import open_study, run_study

    root = digits_folder(tmp_path / "imgs", per_class=15, classes=3)
    spec = spec_from_data({
        "study_name": "folder", "space": TINY_SPACE, "budget": {"n_trials": 2},
        "dataset": {"kind": "imagefolder", "root": str(root), "augment": {"crop_padding": 1}},
        "measure": {"latency_repeats": 1, "latency_warmup": 1},
        "device": "cpu", "threads": 1,
    })
    study, spec = open_study(spec, f"sqlite:///{tmp_path / 'study.db'}")
    summary = run_study(study, spec)
    assert summary.finished == 2
    record = split_record(study)
    assert "assignment" not in study.user_attrs[attrs.SPLIT]  # people see sizes, not the packed bytes
    assert record["sizes"] == {"train": 27, "val": 9, "test": 9}
    for trial in study.trials:
        assert trial.state.name == "COMPLETE"
        assert 0 <= trial.user_attrs["ss.accuracy"] <= 1
        assert 0 < trial.user_attrs["ss.data_seconds"] < trial.user_attrs["ss.trial_seconds"]


def test_the_example_study_runs_on_a_folder(tmp_path, monkeypatch):
    from scalesearch.search.config.spec import DEFAULT_SPEC, load_spec
    from scalesearch.search.study.study import open_study, run_study

    root = digits_folder(tmp_path / "imgs", per_class=10, classes=3)
    example = DEFAULT_SPEC.parent / "imagefolder_example.yaml"
    spec = load_spec(example, [f"dataset.root={root}", "dataset.input_size=8", "budget.n_trials=1", "space.training.epochs=1",
                               "space.families.resnet.width_multiplier=0.0625",
                               "space.families.convnext.width_multiplier=0.25", "device=cpu", "threads=1",
                               "measure.latency_repeats=1"])
    assert spec.dataset.kind == "imagefolder" and spec.measure.extra_metrics == ("robust_accuracy",)
    study, spec = open_study(spec, f"sqlite:///{tmp_path / 'study.db'}")
    assert run_study(study, spec).finished == 1
    assert 0 <= study.trials[0].user_attrs["ss.robust_accuracy"] <= 1
