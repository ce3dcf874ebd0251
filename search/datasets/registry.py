"""Dataset kinds, chosen by ``dataset.kind`` from one dict. A kind is a loader returning an
:class:`ImageSource` (in memory) or :class:`FileSource` (streamed), plus a spec check.

Adding a kind is a one-file change: write ``load(spec)`` and ``check(spec)``, add it below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scalesearch.errors import SpecError, UnknownNameError
from scalesearch.search.datasets import (
    digits,
    imagefolder,
    python_data,
    synthetic,
    torchvision_root,
)
from scalesearch.search.datasets.source import FileSource, ImageSource

if TYPE_CHECKING:
    from scalesearch.search.datasets.spec import DatasetSpec

ON_CORRUPT = ("fail", "skip")


@dataclass(frozen=True)
class Kind:
    load: Callable[[DatasetSpec], ImageSource | FileSource]
    check: Callable[[DatasetSpec], None]
    description: str


DATASETS: dict[str, Kind] = {
    "digits": Kind(digits.load, digits.check, "scikit-learn's embedded 8x8 digits (the default)"),
    "imagefolder": Kind(imagefolder.load, imagefolder.check, "your images: root/<class>/*.png or root/train|val|test/<class>/"),
    "torchvision": Kind(torchvision_root.load, torchvision_root.check, "CIFAR10/100, MNIST, ... from a local root, never downloaded"),
    "synthetic": Kind(synthetic.load, synthetic.check, "seeded prototypes plus noise, for tests and benchmarks"),
    "python": Kind(python_data.load, python_data.check, "tensors or a torch Dataset given to scalesearch.run(data=...), in that process only"),
}


def get_kind(name: str) -> Kind:
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownNameError(f"dataset.kind: unknown kind {name!r}; choose from {', '.join(DATASETS)}") from None


def check_dataset(spec: DatasetSpec) -> None:
    """Validate the ``dataset`` section (called by the spec's validation)."""
    for name in ("val_fraction", "test_fraction"):
        value = getattr(spec, name)
        if not 0 < value < 1:
            raise SpecError(f"dataset.{name}: must be between 0 and 1, got {value}")
    if spec.val_fraction + spec.test_fraction >= 0.9:
        raise SpecError("dataset: val_fraction + test_fraction must leave at least 10% for training")
    if spec.input_size is not None and spec.input_size <= 0:
        raise SpecError(f"dataset.input_size: must be positive, got {spec.input_size}")
    get_kind(spec.kind).check(spec)
    if spec.in_chans not in (None, 1, 3):
        raise SpecError(f"dataset.in_chans: must be 1 (grey) or 3 (colour), got {spec.in_chans}")
    for name in ("mean", "std"):
        value = getattr(spec, name)
        if value is None:
            continue
        if len(value) not in (1, 3) or (spec.in_chans == 1 and len(value) == 3):
            raise SpecError(f"dataset.{name}: give 1 value or one per channel (1 or 3), got {list(value)}")
        if name == "std" and min(value) <= 0:
            raise SpecError(f"dataset.std: every value must be positive, got {list(value)}")
    if spec.class_names is not None and len(set(spec.class_names)) != len(spec.class_names):
        raise SpecError("dataset.class_names: names must be distinct")
    if spec.on_corrupt not in ON_CORRUPT:
        raise SpecError(f"dataset.on_corrupt: expected one of {', '.join(ON_CORRUPT)}, got {spec.on_corrupt!r}")
    if spec.augment.crop_padding < 0:
        raise SpecError(f"dataset.augment.crop_padding: must be >= 0, got {spec.augment.crop_padding}")
    if spec.max_memory_mb <= 0:
        raise SpecError(f"dataset.max_memory_mb: must be positive, got {spec.max_memory_mb}")
    if spec.num_workers is not None and spec.num_workers < 0:
        raise SpecError(f"dataset.num_workers: must be >= 0, got {spec.num_workers}")
