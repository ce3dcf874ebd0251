"""``kind: imagefolder``: your own images, one subfolder per class.

Either ``root/<class>/*.png`` (the split is carved from it, stratified) or
``root/train/<class>/...`` with optional ``root/val/<class>/...`` and ``root/test/<class>/...``
(explicit folders are respected; what is missing is carved from ``train/``). PNG, JPEG, BMP,
WebP, TIFF; grey or colour. Hidden files and other suffixes are ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scalesearch.errors import DataError
from scalesearch.search.datasets import cache
from scalesearch.search.datasets.decode import (
    Probe,
    decode,
    native_size,
    probe,
    read_all,
    warn_skipped,
)
from scalesearch.search.datasets.source import POOL, TEST, VAL, FileSource, ImageSource

if TYPE_CHECKING:
    from scalesearch.search.datasets.spec import DatasetSpec

SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})
#: Split folder name -> the part it pins its images to.
SPLIT_FOLDERS = {"train": POOL, "val": VAL, "valid": VAL, "validation": VAL, "test": TEST}


@dataclass(frozen=True)
class Scan:
    root: Path
    files: tuple[str, ...]  # relative to root, sorted by class then path
    labels: Any  # int64 numpy array
    parts: Any  # int8 numpy array, or None for a plain class layout
    class_names: tuple[str, ...]


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / f for f in sorted(filenames)
                  if not f.startswith(".") and Path(f).suffix.lower() in SUFFIXES]
    return found


def _classes(folder: Path, where: str) -> dict[str, list[Path]]:
    classes = {d.name: _images(d) for d in _subdirs(folder)}
    if not classes:
        raise DataError(f"dataset.root: {where} has no class folders; put each class's images in "
                        f"its own subfolder ({where}/<class>/image.png)")
    for name, files in classes.items():
        if not files:
            raise DataError(f"dataset.root: class folder {folder / name} holds no images "
                            f"({', '.join(sorted(SUFFIXES))}); add images or remove the folder")
    if len(classes) < 2:
        raise DataError(f"dataset.root: {where} has a single class ({next(iter(classes))}); "
                        "a classifier needs at least 2 class folders")
    return classes


def scan(root: Path) -> Scan:
    """The files, labels and pinned parts of an image folder; clear errors for bad layouts."""
    import numpy as np

    if not root.is_dir():
        raise DataError(f"dataset.root: {root} is not a folder; give a folder with one subfolder per class")
    names = {d.name for d in _subdirs(root)}
    split_layout = "train" in names and names <= set(SPLIT_FOLDERS)
    if split_layout:
        folders = {name: _classes(root / name, f"{root}/{name}") for name in sorted(names)}
        class_names = tuple(folders["train"])
        for name, classes in folders.items():
            if tuple(classes) != class_names:
                missing = sorted(set(class_names) - set(classes))
                extra = sorted(set(classes) - set(class_names))
                raise DataError(
                    f"dataset.root: {name}/ and train/ have different classes "
                    f"(missing in {name}/: {', '.join(missing) or '-'}; not in train/: {', '.join(extra) or '-'}); "
                    "give every split folder the same class subfolders")
    else:
        folders = {"": _classes(root, str(root))}
        class_names = tuple(folders[""])
    files, labels, parts = [], [], []
    for name, classes in folders.items():
        for label, class_name in enumerate(class_names):
            for path in classes[class_name]:
                files.append(path.relative_to(root).as_posix())
                labels.append(label)
                parts.append(SPLIT_FOLDERS.get(name, POOL))
    return Scan(root, tuple(files), np.asarray(labels, dtype=np.int64),
                np.asarray(parts, dtype=np.int8) if split_layout else None, class_names)


def _workers() -> int:
    from scalesearch.search.runtime.device import available_cores

    return min(8, 2 * available_cores())


def _probe_all(scan: Scan, on_corrupt: str) -> tuple[Scan, list[Probe], list[str]]:
    probes, bad = read_all([scan.root / f for f in scan.files], probe, on_corrupt, _workers())
    return _drop(scan, bad), probes, [scan.files[i] for i in bad]


def _drop(scan: Scan, bad: list[int]) -> Scan:
    """``scan`` without the unreadable files at ``bad``; an error if a class loses every image."""
    import numpy as np

    if not bad:
        return scan
    keep = np.setdiff1d(np.arange(len(scan.files)), bad)
    labels = scan.labels[keep]
    empty = [name for i, name in enumerate(scan.class_names) if not (labels == i).any()]
    if empty:
        raise DataError(f"dataset.root: every image of class {empty[0]} under {scan.root} is unreadable; "
                        "replace them or remove the class folder")
    parts = scan.parts[keep] if scan.parts is not None else None
    return Scan(scan.root, tuple(scan.files[i] for i in keep), labels, parts, scan.class_names)


def _label(spec: DatasetSpec, root: Path) -> str:
    return root.resolve().name if spec.name == "digits" else spec.name  # "digits" is the default label


def _decoded_arrays(scan: Scan, spec: DatasetSpec, size: int, in_chans: int,
                    skipped: list[str]) -> dict[str, Any]:
    import numpy as np

    images, bad = read_all([scan.root / f for f in scan.files], lambda p: decode(p, size, in_chans),
                           spec.on_corrupt, _workers())
    kept = _drop(scan, bad)
    return {
        "images": np.stack(images),
        "labels": kept.labels,
        "parts": kept.parts if kept.parts is not None else np.zeros(0, np.int8),
        "class_names": np.asarray(scan.class_names, dtype=str),
        "skipped": np.asarray(skipped + [scan.files[i] for i in bad], dtype=str),
    }


def load(spec: DatasetSpec) -> ImageSource | FileSource:
    """Decoded images (from the cache when the folder is unchanged), or files to stream."""
    root = Path(spec.root).expanduser()
    found = scan(root)
    key = cache.content_key([
        "imagefolder", str(root.resolve()), str(spec.input_size), str(spec.in_chans), spec.on_corrupt,
        *cache.file_stamps(root, found.files),
    ])
    path = cache.entry_path(cache.cache_dir(spec.cache_dir), "imagefolder", key)
    if spec.stream is not True:
        arrays = cache.memo_get(key)
        if arrays is None and spec.cache:
            arrays = cache.load_arrays(path)
            if arrays is not None:
                warn_skipped([str(root / f) for f in arrays["skipped"]], "unreadable (cached)")
        if arrays is not None and arrays["images"].size * 4 <= spec.max_memory_mb * 2**20:
            cache.memo_put(key, arrays)
            return _source(spec, root, arrays)
    found, probes, skipped = _probe_all(found, spec.on_corrupt)
    size = spec.input_size or native_size(probes)
    in_chans = spec.in_chans or (1 if all(p.grey for p in probes) else 3)
    decoded_mb = len(probes) * in_chans * size * size * 4 / 2**20  # float32 on the device
    if spec.stream or (spec.stream is None and decoded_mb > spec.max_memory_mb):
        return FileSource(_label(spec, root), str(root), found.files, found.labels, found.class_names,
                          found.parts, size, in_chans, spec.on_corrupt)
    arrays = _decoded_arrays(found, spec, size, in_chans, skipped)
    if spec.cache:
        cache.save_arrays(path, arrays)
    cache.memo_put(key, arrays)
    return _source(spec, root, arrays)


def _source(spec: DatasetSpec, root: Path, arrays: dict[str, Any]) -> ImageSource:
    parts = arrays["parts"] if arrays["parts"].size else None
    return ImageSource(_label(spec, root), arrays["images"], arrays["labels"],
                       tuple(str(c) for c in arrays["class_names"]), parts)
