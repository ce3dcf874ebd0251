"""Datasets as in-memory tensors with a stratified, seeded train/validation/test split.

The search only ever sees ``train`` and ``val``; ``test`` is reserved for the final retrain.
Datasets are chosen by name from ``DATASETS`` (one loader function each).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from scalesearch.errors import DataError, UnknownNameError


@dataclass(frozen=True)
class Split:
    """An in-memory split: the trainer only calls ``len``, ``num_batches`` and ``batches``."""

    x: Any  # float tensor (N, C, H, W), normalised
    y: Any  # long tensor (N,)

    def __len__(self) -> int:
        return len(self.y)

    def num_batches(self, batch_size: int, drop_last: bool = False) -> int:
        n = len(self)
        return max(1, n // batch_size) if drop_last else -(-n // batch_size)

    def batches(self, batch_size: int, *, device: str, shuffle: bool = False,
                generator: Any = None, drop_last: bool = False) -> Iterator[tuple[Any, Any]]:
        """``(x, y)`` batches on ``device``; ``drop_last`` drops a ragged tail (BatchNorm needs > 1)."""
        import torch

        n = len(self)
        batch_size = min(batch_size, n)
        order = torch.randperm(n, generator=generator).to(self.y.device) if shuffle else None
        for b in range(self.num_batches(batch_size, drop_last)):
            idx = slice(b * batch_size, (b + 1) * batch_size) if order is None else order[b * batch_size:(b + 1) * batch_size]
            yield self.x[idx].to(device, non_blocking=True), self.y[idx].to(device, non_blocking=True)


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    in_chans: int
    input_size: int
    class_names: tuple[str, ...]

    def to(self, device: str) -> Dataset:
        move = lambda s: Split(s.x.to(device), s.y.to(device))  # noqa: E731
        return Dataset(self.name, move(self.train), move(self.val), move(self.test),
                       self.num_classes, self.in_chans, self.input_size, self.class_names)


def _digits() -> tuple[Any, Any, tuple[str, ...]]:
    """scikit-learn's embedded 8x8 digits: 1,797 grey images, 10 classes, no download."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.reshape(-1, 1, 8, 8) / 16.0
    return images, bunch.target, tuple(str(n) for n in bunch.target_names)


DATASETS: dict[str, Callable[[], tuple[Any, Any, tuple[str, ...]]]] = {"digits": _digits}


def load_dataset(
    name: str = "digits",
    *,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    input_size: int | None = None,
) -> Dataset:
    """Load ``name``, split it stratified by class, normalise with train statistics."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from sklearn.model_selection import train_test_split

    try:
        loader = DATASETS[name]
    except KeyError:
        raise UnknownNameError(f"dataset.name: unknown dataset {name!r}; choose from {', '.join(DATASETS)}") from None
    images, labels, class_names = loader()
    index = np.arange(len(labels))
    try:
        rest, test = train_test_split(index, test_size=test_fraction, stratify=labels, random_state=split_seed)
        train, val = train_test_split(
            rest, test_size=val_fraction / (1 - test_fraction), stratify=labels[rest], random_state=split_seed
        )
    except ValueError as e:
        raise DataError(f"dataset: cannot split {name!r} with these fractions: {e}") from None
    x = torch.as_tensor(images, dtype=torch.float32)
    if input_size is not None and input_size != x.shape[-1]:
        x = F.interpolate(x, size=(input_size, input_size), mode="bilinear", align_corners=False)
    mean = x[train].mean(dim=(0, 2, 3), keepdim=True)
    std = x[train].std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    x = (x - mean) / std
    y = torch.as_tensor(labels, dtype=torch.long)
    part = lambda idx: Split(x[idx].contiguous(), y[idx].contiguous())  # noqa: E731
    return Dataset(name, part(train), part(val), part(test), len(class_names), x.shape[1], x.shape[-1], class_names)
