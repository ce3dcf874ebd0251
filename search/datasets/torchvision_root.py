"""``kind: torchvision``: CIFAR10/100, MNIST, FashionMNIST, KMNIST, SVHN from a local ``root``
in torchvision's own on-disk format. Never downloads: a missing or incomplete root is an error
that says how to fetch the files once on a machine with internet access.

The official test set is pinned to ``test``; validation is carved from the training set.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from scalesearch.errors import DataError
from scalesearch.search.datasets import cache
from scalesearch.search.datasets.kinds_spec import TORCHVISION, resolve_name
from scalesearch.search.datasets.source import POOL, TEST, ImageSource

if TYPE_CHECKING:
    from scalesearch.search.datasets.spec import DatasetSpec


def how_to_get(name: str, root: Path) -> str:
    return (f"scalesearch never downloads; on a machine with internet run "
            f"python -c \"import torchvision; torchvision.datasets.{name}('{root}', download=True)\" "
            f"and copy {root} here (it must hold {TORCHVISION[name].expects})")


def _read(name: str, root: Path, train: bool) -> tuple[Any, Any, tuple[str, ...]]:
    import numpy as np
    import torchvision

    entry = TORCHVISION[name]
    cls = getattr(torchvision.datasets, name)
    split = {"train": train} if entry.split_arg == "train" else {"split": "train" if train else "test"}
    try:
        ds = cls(str(root), download=False, **split)
    except (RuntimeError, FileNotFoundError, OSError) as e:
        raise DataError(f"dataset.root: {name} not found or incomplete in {root} ({e}); {how_to_get(name, root)}") from None
    data = np.asarray(ds.data)
    images = {"NHW": lambda a: a[:, None], "NHWC": lambda a: a.transpose(0, 3, 1, 2), "NCHW": lambda a: a}[entry.layout](data)
    labels = np.asarray(getattr(ds, entry.labels_attr), dtype=np.int64)
    classes = tuple(getattr(ds, "classes", None) or entry.classes)
    return np.ascontiguousarray(images, dtype=np.uint8), labels, classes


def load(spec: DatasetSpec) -> ImageSource:
    import numpy as np

    name = resolve_name(spec.name)
    root = Path(spec.root).expanduser()
    if not root.is_dir():
        raise DataError(f"dataset.root: {root} does not exist; {how_to_get(name, root)}")
    key = cache.content_key(["torchvision", name, str(root.resolve())])  # in-process reuse only
    source = cache.memo_get(key)
    if source is None:
        train_x, train_y, classes = _read(name, root, train=True)
        test_x, test_y, _ = _read(name, root, train=False)
        parts = np.concatenate([np.full(len(train_y), POOL, np.int8), np.full(len(test_y), TEST, np.int8)])
        source = ImageSource(name, np.concatenate([train_x, test_x]), np.concatenate([train_y, test_y]),
                             classes, parts)
        cache.memo_put(key, source)
    return source
