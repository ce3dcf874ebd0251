"""Large image folders: decoded by DataLoader worker processes, batch by batch, every epoch.

Workers decode files to uint8; the main process copies each batch to the device, normalises
and augments it there (the same augmentation as in-memory splits). A persistent loader per
(batch size, shuffle, drop_last, pinned) keeps its workers alive across epochs; a split keeps
the :data:`MAX_LOADERS` most recently used and closes the others (their worker processes exit),
so searching the batch size does not pile up processes. Batches bound for a GPU come through
pinned memory and are copied without blocking. The shuffle order comes from the trainer's
generator, so a seeded run sees the same order as with in-memory data.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scalesearch.errors import DataWarning
from scalesearch.search.datasets.augment import Augment, epoch_generator
from scalesearch.search.datasets.base import DataClock, num_batches, timed
from scalesearch.search.datasets.decode import decode, unreadable

#: Loaders a split keeps open: one for training batches, one for evaluation (per split).
MAX_LOADERS = 2


class FileDataset:
    """A map-style dataset over image files: item -> (uint8 image, label, index, error or "")."""

    def __init__(self, root: str, files: tuple[str, ...], labels: Any, size: int, in_chans: int):
        self.root, self.files, self.labels = root, files, labels
        self.size, self.in_chans = size, in_chans

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[Any, int, int, str]:
        import numpy as np
        import torch

        try:
            image, error = decode(Path(self.root) / self.files[i], self.size, self.in_chans), ""
        except Exception as e:  # reported by the main process, which knows the on_corrupt policy
            image = np.zeros((self.in_chans, self.size, self.size), np.uint8)
            error = f"{type(e).__name__}: {e}"
        return torch.from_numpy(image), int(self.labels[i]), i, error


class _OrderSampler:
    """Yields ``order``, which the split sets before each epoch."""

    def __init__(self, n: int):
        self.order: list[int] = list(range(n))

    def __iter__(self) -> Iterator[int]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


class StreamSplit:
    """Same contract as the in-memory ``Split``: ``len``, ``num_batches``, ``batches``."""

    def __init__(self, files: FileDataset, mean: tuple[float, ...], std: tuple[float, ...], *,
                 augment: Augment | None = None, clock: DataClock | None = None,
                 num_workers: int = 0, on_corrupt: str = "fail"):
        self.files, self.mean, self.std = files, mean, std
        self.augment, self.clock = augment, clock
        self.num_workers, self.on_corrupt = num_workers, on_corrupt
        self._loaders: OrderedDict[tuple[int, bool, bool, bool], tuple[Any, _OrderSampler]] = OrderedDict()
        self._skipped: set[int] = set()

    def __len__(self) -> int:
        return len(self.files)

    def num_batches(self, batch_size: int, drop_last: bool = False) -> int:
        return num_batches(len(self), batch_size, drop_last)

    def to(self, device: str) -> StreamSplit:
        return self

    def __add__(self, other: StreamSplit) -> StreamSplit:
        """Both splits' files, with this one's augmentation (e.g. train + val for a retrain)."""
        import numpy as np

        a, b = self.files, other.files
        files = FileDataset(a.root, a.files + b.files, np.concatenate([a.labels, b.labels]), a.size, a.in_chans)
        return StreamSplit(files, self.mean, self.std, augment=self.augment, clock=self.clock,
                           num_workers=self.num_workers, on_corrupt=self.on_corrupt)

    def _loader(self, batch_size: int, shuffle: bool, drop_last: bool, pin: bool) -> tuple[Any, _OrderSampler]:
        from torch.utils.data import DataLoader

        key = (batch_size, shuffle, drop_last, pin)
        if key in self._loaders:
            self._loaders.move_to_end(key)
            return self._loaders[key]
        while len(self._loaders) >= MAX_LOADERS:
            _close(self._loaders.popitem(last=False)[1][0])
        sampler = _OrderSampler(len(self))
        loader = DataLoader(self.files, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                            num_workers=self.num_workers, pin_memory=pin,
                            persistent_workers=self.num_workers > 0)
        self._loaders[key] = (loader, sampler)
        return loader, sampler

    @property
    def open_loaders(self) -> int:
        return len(self._loaders)

    def close(self) -> None:
        """Close every loader (their worker processes exit); the split stays usable."""
        while self._loaders:
            _close(self._loaders.popitem()[1][0])

    def batches(self, batch_size: int, *, device: str, shuffle: bool = False,
                generator: Any = None, drop_last: bool = False) -> Iterator[tuple[Any, Any]]:
        return timed(self._batches(batch_size, device, shuffle, generator, drop_last), self.clock)

    def _batches(self, batch_size: int, device: str, shuffle: bool, generator: Any,
                 drop_last: bool) -> Iterator[tuple[Any, Any]]:
        import torch

        n = len(self)
        batch_size = min(batch_size, n)
        drop_last = drop_last and n >= batch_size
        loader, sampler = self._loader(batch_size, shuffle, drop_last, device.startswith("cuda"))
        sampler.order = torch.randperm(n, generator=generator).tolist() if shuffle else list(range(n))
        mean = torch.tensor(self.mean, device=device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=device).view(1, -1, 1, 1)
        augment = self.augment if shuffle and self.augment is not None and self.augment.active else None
        augment_generator = epoch_generator(device, generator) if augment is not None else None
        for images, labels, index, errors in loader:
            if any(errors):
                images, labels = self._readable(images, labels, index, errors)
                if len(labels) == 0:
                    continue
            x = images.to(device, non_blocking=True).float().div_(255).sub_(mean).div_(std)
            yield (augment(x, augment_generator) if augment is not None else x), labels.to(device, non_blocking=True)

    def _readable(self, images: Any, labels: Any, index: Any, errors: list[str]) -> tuple[Any, Any]:
        import torch

        ok = torch.tensor([not e for e in errors])
        bad = [(int(i), e) for i, e in zip(index, errors, strict=True) if e]
        if self.on_corrupt != "skip":
            i, error = bad[0]
            raise unreadable(Path(self.files.root) / self.files.files[i], OSError(error))
        for i, _ in bad:
            if i not in self._skipped:
                self._skipped.add(i)
                warnings.warn(DataWarning(f"dataset: skipped unreadable image "
                                          f"{Path(self.files.root) / self.files.files[i]} (dataset.on_corrupt: skip)"),
                              stacklevel=4)
        return images[ok], labels[ok]


def _close(loader: Any) -> None:
    """Stop a persistent loader's worker processes now, not whenever the loader is collected.

    torch has no public ``close()``; the loader's live iterator owns the workers, and shutting
    it down is what its own ``__del__`` does.
    """
    iterator = getattr(loader, "_iterator", None)
    shutdown = getattr(iterator, "_shutdown_workers", None)
    if shutdown is not None:
        shutdown()
    loader._iterator = None
