"""Streaming splits: same contract and same data as in-memory splits, decoded by workers."""

from __future__ import annotations

import pytest
import torch

from scalesearch.errors import DataError
from scalesearch.search.datasets import clear_memory_cache, load_dataset
from scalesearch.search.datasets.spec import AugmentSpec, DatasetSpec
from scalesearch.search.datasets.stream import StreamSplit
from scalesearch.search.training.train import TrainConfig, evaluate, train
from tests.datasets_helpers import digits_folder


def spec(root, **kw) -> DatasetSpec:
    return DatasetSpec(kind="imagefolder", root=str(root), **kw)


def rows(batches) -> list[tuple]:
    return sorted((tuple(x.flatten().round(decimals=4).tolist()), int(y)) for xb, yb in batches for x, y in zip(xb, yb, strict=True))


@pytest.mark.parametrize("workers", [0, 1])
def test_streamed_batches_hold_the_same_data_as_in_memory_ones(tmp_path, workers):
    root = digits_folder(tmp_path / "imgs", per_class=10, classes=3)
    memory = load_dataset(spec(root, mean=(0.25,), std=(0.3,)))
    stream = load_dataset(spec(root, mean=(0.25,), std=(0.3,), stream=True, num_workers=workers))
    assert isinstance(stream.train, StreamSplit) and stream.streaming
    assert (stream.num_classes, stream.in_chans, stream.input_size) == (3, 1, 8)
    for a, b in ((memory.train, stream.train), (memory.val, stream.val)):
        assert len(a) == len(b) and a.num_batches(4, True) == b.num_batches(4, True)
        assert rows(a.batches(5, device="cpu")) == rows(b.batches(5, device="cpu"))
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    shuffled_m = [y.tolist() for _, y in memory.train.batches(4, device="cpu", shuffle=True, generator=g1, drop_last=True)]
    shuffled_s = [y.tolist() for _, y in stream.train.batches(4, device="cpu", shuffle=True, generator=g2, drop_last=True)]
    assert shuffled_m == shuffled_s  # one generator, one order, whichever way the data is held
    assert stream.data_seconds > stream.load_seconds  # batch time is charged to the clock


def test_streaming_is_chosen_when_the_data_exceeds_the_memory_limit(tmp_path):
    root = digits_folder(tmp_path / "imgs", per_class=10, classes=3)
    assert load_dataset(spec(root, max_memory_mb=1e-3, num_workers=0)).streaming
    assert not load_dataset(spec(root)).streaming


def test_stream_statistics_are_measured_from_training_images(tmp_path):
    root = digits_folder(tmp_path / "imgs", per_class=10, classes=3)
    memory, stream = load_dataset(spec(root)), load_dataset(spec(root, stream=True, num_workers=0))
    assert stream.mean == pytest.approx(memory.mean, abs=1e-5)
    assert stream.std == pytest.approx(memory.std, rel=1e-3)


def test_the_trainer_runs_on_a_streamed_dataset(tmp_path):
    from scalesearch.spaces.registry import ModelInput, get_family

    root = digits_folder(tmp_path / "imgs", per_class=10, classes=3)
    data = load_dataset(spec(root, stream=True, num_workers=1, augment=AugmentSpec(crop_padding=1)))
    torch.manual_seed(0)
    model = get_family("resnet").build(ModelInput(3, 1, 8), width_multiplier=0.0625, depth_multiplier=0.5)
    result = train(model, data, TrainConfig(epochs=2, batch_size=8), "cpu")
    assert result.epochs_run == 2 and len(result.curve) == 2
    assert result.val_accuracy == result.curve[-1] == evaluate(model, data.val, "cpu")  # the last epoch's
    with torch.inference_mode():
        model.eval()
        correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in data.test.batches(4, device="cpu"))
    assert evaluate(model, data.test, "cpu") == correct / len(data.test)  # every test image, counted once


def test_a_file_that_breaks_after_loading_is_named_or_skipped(tmp_path):
    root = digits_folder(tmp_path / "imgs", per_class=10, classes=3)
    data = load_dataset(spec(root, stream=True, num_workers=0, split_seed=1))
    victim = root / data.val.files.files[0]
    victim.write_bytes(b"broken")
    with pytest.raises(DataError, match=f"cannot read image {victim}"):
        list(data.val.batches(4, device="cpu"))
    clear_memory_cache()
    victim.unlink()
    digits_folder(tmp_path / "imgs", per_class=10, classes=3)  # restore
    skipping = load_dataset(spec(root, stream=True, num_workers=0, on_corrupt="skip", split_seed=1))
    victim.write_bytes(b"broken")
    with pytest.warns(UserWarning, match="skipped unreadable image"):
        seen = sum(len(y) for _, y in skipping.val.batches(4, device="cpu"))
    assert seen == len(skipping.val) - 1


def test_searching_the_batch_size_does_not_pile_up_loader_workers(tmp_path):
    """One loader per batch size would keep one set of worker processes per size tried; a split
    keeps MAX_LOADERS loaders and closes the rest, and reuses a loader for the same batches."""
    import multiprocessing

    from scalesearch.search.datasets.stream import MAX_LOADERS

    root = digits_folder(tmp_path / "imgs", per_class=10, classes=3)
    train = load_dataset(spec(root, stream=True, num_workers=1)).train
    before = {p.pid for p in multiprocessing.active_children()}

    def workers() -> set[int]:
        return {p.pid for p in multiprocessing.active_children()} - before

    generator = torch.Generator().manual_seed(0)
    list(train.batches(4, device="cpu", shuffle=True, generator=generator, drop_last=True))
    first = workers()
    list(train.batches(4, device="cpu", shuffle=True, generator=generator, drop_last=True))
    assert workers() == first and len(first) == 1  # the same loader, the same worker, next epoch
    for batch_size in (2, 3, 5, 6, 7):
        list(train.batches(batch_size, device="cpu", shuffle=True, generator=generator, drop_last=True))
        assert train.open_loaders == MAX_LOADERS  # the newest two: this size and the last
        assert len(workers()) == MAX_LOADERS  # one worker each; the closed ones have exited
    assert not workers() & first  # the first loader's worker was closed
    train.close()
    assert train.open_loaders == 0 and not workers()
    assert sum(len(y) for _, y in train.batches(4, device="cpu")) == len(train)  # still usable
    train.close()
