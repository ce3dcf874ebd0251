"""Builders for on-disk test data: image folders of digits PNGs and fake torchvision roots."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

TINY_SPACE = {
    "name": "tiny",
    "families": {"resnet": {"width_multiplier": 0.0625, "depth_multiplier": 0.5, "block": "basic"}},
    "training": {"lr": 3.0e-3, "epochs": 1, "batch_size": 32},
}


def digits(per_class: int = 12, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, 8, 8) digits images and labels, ``per_class`` of each of the first ``classes``."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    keep = np.concatenate([np.flatnonzero(bunch.target == c)[:per_class] for c in range(classes)])
    return (bunch.images[keep] * 255 / 16).round().astype(np.uint8), bunch.target[keep]


def write_folder(root: Path, images: np.ndarray, labels: np.ndarray, *, size: int | None = None,
                 mode: str = "L", suffix: str = ".png", names: tuple[str, ...] | None = None,
                 prefix: str = "") -> Path:
    """``root/<class>/<i>.png`` for every image (grey, or RGB when ``mode="RGB"``)."""
    from PIL import Image

    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / (names[label] if names else f"digit_{label}")
        folder.mkdir(parents=True, exist_ok=True)
        img = Image.fromarray(image, "L")
        if size is not None:
            img = img.resize((size, size), Image.Resampling.BILINEAR)
        img.convert(mode).save(folder / f"{prefix}{i:05d}{suffix}")
    return root


def digits_folder(root: Path, per_class: int = 12, classes: int = 3, **kw) -> Path:
    images, labels = digits(per_class, classes)
    return write_folder(root, images, labels, **kw)


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX (MNIST) file: magic (0, 0, uint8 type 8, ndim), big-endian dims, raw bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def fake_mnist_root(root: Path, name: str = "MNIST", train: int = 60, test: int = 20, size: int = 28) -> Path:
    """A tiny root in torchvision's MNIST layout: ``root/<name>/raw/*-idx?-ubyte``."""
    rng = np.random.default_rng(0)
    raw = root / name / "raw"
    for prefix, n in (("train", train), ("t10k", test)):
        labels = np.arange(n) % 10
        images = (rng.random((n, size, size)) * 64).astype(np.uint8)
        images[:, :, :4] += (labels * 19).astype(np.uint8)[:, None, None]  # learnable-ish
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root
