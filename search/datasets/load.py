"""``load_dataset``: spec -> source (a kind's loader) -> split -> normalised splits.

Small data is normalised once and held as tensors (``Dataset.to("cuda")`` keeps it on the GPU);
data over ``dataset.max_memory_mb`` (or ``stream: true``) streams from disk through workers.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from scalesearch.errors import DataError, UnknownNameError
from scalesearch.search.datasets import split as splits
from scalesearch.search.datasets.augment import Augment
from scalesearch.search.datasets.base import DataClock, Dataset, Split
from scalesearch.search.datasets.kinds_spec import check_dataset
from scalesearch.search.datasets.registry import get_kind
from scalesearch.search.datasets.source import FileSource, ImageSource

if TYPE_CHECKING:
    from scalesearch.search.datasets.spec import DatasetSpec

STATS_SAMPLE = 2000  # training images decoded to estimate mean/std of a streamed dataset


def _as_spec(dataset: DatasetSpec | str, overrides: dict[str, Any]) -> DatasetSpec:
    from scalesearch.search.datasets.spec import DatasetSpec

    if isinstance(dataset, str):
        if dataset not in ("digits", "synthetic"):
            raise UnknownNameError(f"dataset: unknown dataset {dataset!r}; pass a DatasetSpec with a kind "
                                   "(imagefolder, torchvision) for anything but digits or synthetic")
        dataset = DatasetSpec(kind=dataset, name=dataset)
    changes = {k: v for k, v in overrides.items() if v is not None}
    spec = dataclasses.replace(dataset, **changes) if changes else dataset
    check_dataset(spec)
    return spec


def load_dataset(dataset: DatasetSpec | str = "digits", *, val_fraction: float | None = None,
                 test_fraction: float | None = None, split_seed: int | None = None,
                 input_size: int | None = None, record: dict[str, Any] | None = None,
                 resplit: int | None = None) -> Dataset:
    """Load a dataset and split it (stratified, seeded) into train/val/test.

    ``dataset`` is the spec's ``dataset`` section (or a kind name, ``"digits"``); keyword
    arguments override its fields. ``record`` is a split stored by a study
    (:func:`split.split_record`): the same split is used, after checking the data still matches.
    ``resplit`` (a seed) redraws that split's train and validation parts (:func:`split.repartition`,
    same sizes, the test part untouched); the normalisation is then measured on the new train part.

    >>> data = load_dataset("digits")  # doctest: +SKIP
    >>> len(data.train), data.input_size, data.num_classes
    (1077, 8, 10)
    """
    spec = _as_spec(dataset, {"val_fraction": val_fraction, "test_fraction": test_fraction,
                              "split_seed": split_seed, "input_size": input_size})
    import sklearn.model_selection  # noqa: F401  (library imports are not data time)
    import torch  # noqa: F401

    started = time.perf_counter()
    source = get_kind(spec.kind).load(spec)
    class_names = _class_names(source, spec)
    if record is not None:
        assignment = splits.assignment_from_record(record, source.labels)
    else:
        assignment = splits.assign(source.labels, source.parts, spec.val_fraction, spec.test_fraction, spec.split_seed)
    settings = {"val_fraction": spec.val_fraction, "test_fraction": spec.test_fraction, "seed": spec.split_seed}
    split_record = record or splits.split_record(source.labels, assignment, **settings)
    if resplit is not None:
        assignment = splits.repartition(assignment, source.labels, resplit)
        split_record = splits.split_record(source.labels, assignment, **settings, resplit=resplit)
    build = _in_memory if isinstance(source, ImageSource) else _streaming
    data = build(source, spec, assignment, class_names)
    return dataclasses.replace(data, split_record=split_record, load_seconds=time.perf_counter() - started)


def _class_names(source: ImageSource | FileSource, spec: DatasetSpec) -> tuple[str, ...]:
    if spec.class_names is None:
        return source.class_names
    if len(spec.class_names) != len(source.class_names):
        raise DataError(f"dataset.class_names: {len(spec.class_names)} names given, but {source.name} has "
                        f"{len(source.class_names)} classes ({', '.join(source.class_names[:5])}...)")
    return spec.class_names


def _augment(spec: DatasetSpec) -> Augment | None:
    augment = Augment(spec.augment.crop_padding, spec.augment.hflip)
    return augment if augment.active else None


def _stats(spec: DatasetSpec, in_chans: int, measured: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel (mean, std): the spec's where given, else ``measured()``."""
    def per_channel(value: tuple[float, ...], name: str) -> tuple[float, ...]:
        if len(value) == 1:
            return tuple(value) * in_chans
        if len(value) != in_chans:
            raise DataError(f"dataset.{name}: {len(value)} values for {in_chans}-channel images; give 1 or {in_chans}")
        return tuple(value)

    if spec.mean is not None and spec.std is not None:
        return per_channel(spec.mean, "mean"), per_channel(spec.std, "std")
    mean, std = measured()
    return (per_channel(spec.mean, "mean") if spec.mean is not None else mean,
            per_channel(spec.std, "std") if spec.std is not None else std)


def _conform(x: Any, spec: DatasetSpec) -> Any:
    """Float images in [0, 1] with the spec's channels and size (when it sets them)."""
    import torch
    import torch.nn.functional as F

    if spec.in_chans == 3 and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    elif spec.in_chans == 1 and x.shape[1] == 3:
        x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    size = spec.input_size
    if size is not None and (size, size) != tuple(x.shape[-2:]):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=size < min(x.shape[-2:]))
    return x


def _in_memory(source: ImageSource, spec: DatasetSpec, assignment: Any, class_names: tuple[str, ...]) -> Dataset:
    import numpy as np
    import torch

    images = torch.as_tensor(source.images)
    x = images.float().div_(255) if images.dtype == torch.uint8 else images.to(torch.float32)
    x = _conform(x, spec)
    index = [torch.as_tensor(np.flatnonzero(assignment == part)) for part in (splits.TRAIN, splits.VAL, splits.TEST)]

    def measured() -> tuple[tuple[float, ...], tuple[float, ...]]:
        train = x[index[0]]
        return (tuple(train.mean(dim=(0, 2, 3)).tolist()),
                tuple(train.std(dim=(0, 2, 3)).clamp_min(1e-6).tolist()))

    mean, std = _stats(spec, x.shape[1], measured)
    x = (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
    y = torch.as_tensor(source.labels, dtype=torch.long)
    clock = DataClock()
    train, val, test = (Split(x[i].contiguous(), y[i].contiguous(), augment, clock)
                        for i, augment in zip(index, (_augment(spec), None, None), strict=True))
    return Dataset(source.name, train, val, test, len(class_names), x.shape[1], x.shape[-1], class_names,
                   mean, std)


def _num_workers(spec: DatasetSpec) -> int:
    from scalesearch.search.runtime.device import available_cores

    return spec.num_workers if spec.num_workers is not None else min(4, available_cores() - 1)


def _streaming(source: FileSource, spec: DatasetSpec, assignment: Any, class_names: tuple[str, ...]) -> Dataset:
    import numpy as np

    from scalesearch.search.datasets.stream import FileDataset, StreamSplit

    def files(part: int) -> FileDataset:
        keep = np.flatnonzero(assignment == part)
        return FileDataset(source.root, tuple(source.files[i] for i in keep), source.labels[keep],
                           source.size, source.in_chans)

    train_files = files(splits.TRAIN)
    mean, std = _stats(spec, source.in_chans, lambda: _sample_stats(train_files, spec.split_seed))
    clock, workers = DataClock(), _num_workers(spec)
    make = lambda f, augment: StreamSplit(f, mean, std, augment=augment, clock=clock,  # noqa: E731
                                          num_workers=workers, on_corrupt=spec.on_corrupt)
    return Dataset(source.name, make(train_files, _augment(spec)), make(files(splits.VAL), None),
                   make(files(splits.TEST), None), len(class_names), source.in_chans, source.size,
                   class_names, mean, std, streaming=True)


def _sample_stats(files: Any, seed: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean/std of up to STATS_SAMPLE training images (unreadable ones left out)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    picks = rng.choice(len(files), size=min(STATS_SAMPLE, len(files)), replace=False)
    images = [item[0].numpy() for item in (files[int(i)] for i in picks) if not item[3]]
    pixels = np.stack(images).astype(np.float64) / 255
    return (tuple(pixels.mean(axis=(0, 2, 3)).tolist()),
            tuple(np.maximum(pixels.std(axis=(0, 2, 3), ddof=1), 1e-6).tolist()))
