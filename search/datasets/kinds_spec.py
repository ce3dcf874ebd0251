"""The ``dataset`` section of a spec, checked, and the dataset kinds' names, without the loaders.

The spec (``search/config/spec.py``) checks its section here, so reading a spec imports none of
what loads, decodes, caches, splits or augments images. The loaders themselves are chosen by
name in ``search/datasets/registry.py``, whose registry has exactly the kinds listed here
(``tests/datasets/test_registry.py`` checks that). What a ``kind: torchvision`` name may be is
data, kept here; ``search/datasets/torchvision_root.py`` reads the files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scalesearch.errors import SpecError, UnknownNameError

if TYPE_CHECKING:
    from scalesearch.search.datasets.spec import DatasetSpec

ON_CORRUPT = ("fail", "skip")


@dataclass(frozen=True)
class TorchvisionSet:
    expects: str  # what ROOT must contain, for error messages
    layout: str  # how `.data` is laid out: NHW, NHWC or NCHW
    split_arg: str = "train"  # "train" (bool) or "split" ("train"/"test")
    labels_attr: str = "targets"
    classes: tuple[str, ...] = ()  # for datasets without a `.classes` attribute


_MNIST_FILES = "{cls}/raw/train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"

#: torchvision class name -> how to read it.
TORCHVISION: dict[str, TorchvisionSet] = {
    "MNIST": TorchvisionSet(_MNIST_FILES.format(cls="MNIST"), "NHW"),
    "FashionMNIST": TorchvisionSet(_MNIST_FILES.format(cls="FashionMNIST"), "NHW"),
    "KMNIST": TorchvisionSet(_MNIST_FILES.format(cls="KMNIST"), "NHW"),
    "CIFAR10": TorchvisionSet("cifar-10-batches-py/ (data_batch_1..5, test_batch, batches.meta)", "NHWC"),
    "CIFAR100": TorchvisionSet("cifar-100-python/ (train, test, meta)", "NHWC"),
    "SVHN": TorchvisionSet("train_32x32.mat and test_32x32.mat", "NCHW", split_arg="split",
                           labels_attr="labels", classes=tuple(str(i) for i in range(10))),
}


def resolve_name(name: str) -> str:
    """The registered spelling of ``name`` (case-insensitive)."""
    for known in TORCHVISION:
        if known.lower() == name.lower():
            return known
    raise UnknownNameError(f"dataset.name: {name!r} is not a supported torchvision dataset; "
                           f"choose from {', '.join(TORCHVISION)}")


def _digits(spec: DatasetSpec) -> None:
    if spec.name != "digits":
        raise SpecError(f"dataset.name: {spec.name!r} is not the digits dataset; for your own images set "
                        "dataset.kind: imagefolder, for CIFAR10/MNIST/... dataset.kind: torchvision")


def _imagefolder(spec: DatasetSpec) -> None:
    if not spec.root:
        raise SpecError("dataset.root: kind imagefolder needs root: a folder with one subfolder per class")


def _torchvision(spec: DatasetSpec) -> None:
    resolve_name(spec.name)
    if not spec.root:
        raise SpecError(f"dataset.root: kind torchvision needs root: the folder holding {spec.name}'s files")


def _synthetic(spec: DatasetSpec) -> None:
    s = spec.synthetic
    if s.classes < 2:
        raise SpecError(f"dataset.synthetic.classes: needs at least 2 classes, got {s.classes}")
    if s.samples < 2 * s.classes:
        raise SpecError(f"dataset.synthetic.samples: needs at least 2 per class ({2 * s.classes}), got {s.samples}")
    if s.noise < 0:
        raise SpecError(f"dataset.synthetic.noise: must be >= 0, got {s.noise}")


def _python(spec: DatasetSpec) -> None:
    if not spec.fingerprint:
        raise SpecError("dataset.kind: python is set by scalesearch.run(spec, data=(x, y)) from Python, "
                        "not in a spec file; for images on disk use kind imagefolder")
    if spec.root is not None:
        raise SpecError("dataset.root: kind python takes its data from Python, not from a folder; remove root")


@dataclass(frozen=True)
class KindSpec:
    check: Callable[[DatasetSpec], None]  # the kind's own fields of the ``dataset`` section
    description: str


#: Every dataset kind by name: its spec check and what it reads.
KINDS: dict[str, KindSpec] = {
    "digits": KindSpec(_digits, "scikit-learn's embedded 8x8 digits (the default)"),
    "imagefolder": KindSpec(_imagefolder, "your images: root/<class>/*.png or root/train|val|test/<class>/"),
    "torchvision": KindSpec(_torchvision, "CIFAR10/100, MNIST, ... from a local root, never downloaded"),
    "synthetic": KindSpec(_synthetic, "seeded prototypes plus noise, for tests and benchmarks"),
    "python": KindSpec(_python, "tensors or a torch Dataset given to scalesearch.run(data=...), in that process only"),
}


def get_kind_spec(name: str) -> KindSpec:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownNameError(f"dataset.kind: unknown kind {name!r}; choose from {', '.join(KINDS)}") from None


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
    get_kind_spec(spec.kind).check(spec)
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
