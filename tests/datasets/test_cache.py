"""The decoded-image cache: keyed by content, atomic, reused across trials and workers."""

from __future__ import annotations

import os

import numpy as np
import pytest

from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.datasets import cache, clear_memory_cache, imagefolder, load_dataset
from scalesearch.search.datasets.spec import DatasetSpec
from tests.datasets_helpers import TINY_SPACE, digits_folder


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "cache"))
    clear_memory_cache()
    yield
    clear_memory_cache()


@pytest.fixture
def decodes(monkeypatch):
    """Counts images decoded from disk."""
    calls = []
    real = imagefolder.decode

    def counting(path, size, in_chans):
        calls.append(path)
        return real(path, size, in_chans)

    monkeypatch.setattr(imagefolder, "decode", counting)
    return calls


def spec(root, **kw) -> DatasetSpec:
    return DatasetSpec(kind="imagefolder", root=str(root), **kw)


def test_cache_dir_precedence(tmp_path, monkeypatch):
    assert cache.cache_dir("/explicit") == cache.cache_dir("/explicit")
    assert str(cache.cache_dir("/explicit")) == "/explicit"
    assert cache.cache_dir(None) == tmp_path / "cache"
    monkeypatch.delenv(cache.ENV_VAR)
    assert cache.cache_dir(None) == cache.Path.home() / ".cache" / "scalesearch"


def test_a_second_worker_reads_the_disk_cache_instead_of_decoding(tmp_path, decodes):
    root = digits_folder(tmp_path / "imgs", per_class=6, classes=2)
    first = load_dataset(spec(root))
    assert len(decodes) == 12
    entries = list((tmp_path / "cache").glob("imagefolder-*.npz"))
    assert len(entries) == 1 and not list((tmp_path / "cache").glob("*.tmp"))
    clear_memory_cache()  # a fresh worker process
    second = load_dataset(spec(root))
    assert len(decodes) == 12  # nothing decoded again
    assert (first.train.x == second.train.x).all() and (first.test.y == second.test.y).all()


def test_changing_a_file_or_a_decode_setting_makes_a_new_entry(tmp_path, decodes):
    root = digits_folder(tmp_path / "imgs", per_class=6, classes=2)
    load_dataset(spec(root))
    clear_memory_cache()
    load_dataset(spec(root, input_size=10))
    assert len(decodes) == 24
    victim = root / "digit_0" / "00000.png"
    os.utime(victim, ns=(victim.stat().st_atime_ns, victim.stat().st_mtime_ns + 10**9))
    clear_memory_cache()
    load_dataset(spec(root))
    assert len(decodes) == 36
    assert len(list((tmp_path / "cache").glob("imagefolder-*.npz"))) == 3


def test_cache_can_be_turned_off(tmp_path, decodes):
    root = digits_folder(tmp_path / "imgs", per_class=6, classes=2)
    load_dataset(spec(root, cache=False))
    assert not (tmp_path / "cache").exists()


def test_a_damaged_cache_file_is_rebuilt_with_a_warning(tmp_path, decodes):
    root = digits_folder(tmp_path / "imgs", per_class=6, classes=2)
    load_dataset(spec(root))
    (entry,) = (tmp_path / "cache").glob("imagefolder-*.npz")
    entry.write_bytes(b"garbage")
    clear_memory_cache()
    with pytest.warns(UserWarning, match="unreadable"):
        load_dataset(spec(root))
    assert len(decodes) == 24
    assert cache.load_arrays(entry) is not None  # rewritten whole


def test_saved_arrays_never_need_pickle(tmp_path):
    path = tmp_path / "c" / "x.npz"
    assert cache.save_arrays(path, {"images": np.zeros((2, 1, 4, 4), np.uint8),
                                    "names": np.asarray(["a", "b"], dtype=str)})
    loaded = cache.load_arrays(path)  # np.load(allow_pickle=False) inside
    assert loaded["names"].tolist() == ["a", "b"] and loaded["images"].shape == (2, 1, 4, 4)


def test_an_unwritable_cache_dir_warns_and_the_data_still_loads(tmp_path, decodes):
    root = digits_folder(tmp_path / "imgs", per_class=6, classes=2)
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match="cannot write"):
        data = load_dataset(spec(root, cache_dir=str(blocker / "sub")))
    assert len(data.train) > 0


def test_two_trials_share_one_decode(tmp_path, decodes):
    from scalesearch.search.study.study import open_study, run_study

    root = digits_folder(tmp_path / "imgs", per_class=10, classes=3)
    study_spec = spec_from_data({
        "study_name": "cache", "space": TINY_SPACE, "budget": {"n_trials": 2},
        "dataset": {"kind": "imagefolder", "root": str(root)},
        "measure": {"latency_repeats": 1, "latency_warmup": 1}, "device": "cpu", "threads": 1,
    })
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study, study_spec = open_study(study_spec, storage)
    run_study(study, study_spec)
    assert len(decodes) == 30  # the images were decoded once for both trials
    clear_memory_cache()  # a second worker joining the study reads the disk cache
    study, study_spec = open_study(None, storage, "cache", budget={"n_trials": 3})
    run_study(study, study_spec)
    assert len(decodes) == 30
    data_seconds = [t.user_attrs["ss.data_seconds"] for t in study.trials]
    assert all(s > 0 for s in data_seconds)
