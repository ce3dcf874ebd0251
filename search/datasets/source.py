"""What a dataset kind's loader returns: images in memory, or files to stream from disk.

Both carry labels, class names and ``parts``: which split a sample is pinned to by the data
itself (an explicit ``val/`` or ``test/`` folder, a torchvision test set), or ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: ``parts`` values: the pool to split from, and samples pinned to validation or test.
POOL, VAL, TEST = 0, 1, 2


@dataclass(frozen=True)
class ImageSource:
    """Decoded images (N, C, H, W): uint8 in [0, 255] or float in [0, 1]."""

    name: str
    images: Any  # numpy array
    labels: Any  # int64 numpy array (N,)
    class_names: tuple[str, ...]
    parts: Any = None  # int8 numpy array (N,) of POOL/VAL/TEST, or None (all pool)

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class FileSource:
    """Image files under ``root``, decoded to ``in_chans`` x ``size`` x ``size`` when read."""

    name: str
    root: str
    files: tuple[str, ...]  # relative to root
    labels: Any  # int64 numpy array (N,)
    class_names: tuple[str, ...]
    parts: Any = None
    size: int = 0
    in_chans: int = 3
    on_corrupt: str = "fail"

    def __len__(self) -> int:
        return len(self.labels)
