"""Stratified, seeded train/val/test splits, recorded so every worker and the retrain agree.

A split is an *assignment*: one byte per sample (0 train, 1 val, 2 test). Samples pinned by
the data (an explicit ``val/`` or ``test/`` folder, a torchvision test set) keep their part;
the rest is carved from the pool, stratified by class. :func:`split_record` packs the
assignment (zlib + base64) with a hash of the labels it was made for; a study stores that
record, and :func:`assignment_from_record` refuses data whose labels no longer match.
:func:`repartition` draws a fresh train/validation partition of a split's train + validation
pool (same sizes, test untouched): re-evaluation scores a trial on one, not on the validation
images its front was chosen on (``search/results/reeval.py``).
"""

from __future__ import annotations

import base64
import hashlib
import math
import zlib
from typing import Any

from scalesearch.errors import DataError
from scalesearch.search.datasets.source import TEST, VAL

TRAIN = 0
RECORD_VERSION = 1


def _carve(index: Any, labels: Any, fraction: float, seed: int, what: str) -> tuple[Any, Any]:
    """``index`` split into (rest, carved) with ``fraction`` carved, stratified by label."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    counts = np.bincount(labels[index])
    classes, carved = int((counts > 0).sum()), math.ceil(fraction * len(index))
    if carved < classes:
        raise DataError(f"dataset: a {what} split of {carved} image(s) cannot hold one image of each of "
                        f"{classes} classes; add images or raise dataset.{what}_fraction")
    if len(index) - carved < classes:
        raise DataError(f"dataset: carving {carved} {what} image(s) from {len(index)} leaves too few to train "
                        f"{classes} classes; add images or lower dataset.{what}_fraction")
    if counts[counts > 0].min() < 2:
        raise DataError(f"dataset: class index {int(np.flatnonzero(counts == 1)[0])} has a single image; "
                        f"a stratified {what} split needs at least 2 of each class; add images")
    try:
        return train_test_split(index, test_size=fraction, stratify=labels[index], random_state=seed)
    except ValueError as e:
        raise DataError(f"dataset: cannot carve a stratified {what} split ({e}); add images or change "
                        f"dataset.{what}_fraction") from None


def assign(labels: Any, parts: Any, val_fraction: float, test_fraction: float, seed: int) -> Any:
    """The int8 assignment (0 train, 1 val, 2 test) of every sample."""
    import numpy as np

    labels = np.asarray(labels)
    out = np.zeros(len(labels), dtype=np.int8) if parts is None else np.asarray(parts, dtype=np.int8).copy()
    pool = np.flatnonzero(out == TRAIN)
    has_val, has_test = (out == VAL).any(), (out == TEST).any()
    if not has_test and not has_val:  # carve test from the whole, then val from the rest
        pool, test = _carve(pool, labels, test_fraction, seed, "test")
        pool, val = _carve(pool, labels, val_fraction / (1 - test_fraction), seed, "val")
        out[test], out[val] = TEST, VAL
    elif not has_test:
        pool, test = _carve(pool, labels, test_fraction, seed, "test")
        out[test] = TEST
    elif not has_val:
        pool, val = _carve(pool, labels, val_fraction, seed, "val")
        out[val] = VAL
    missing = sorted(set(np.unique(labels)) - set(np.unique(labels[out == TRAIN])))
    if missing:
        raise DataError(f"dataset: class index {missing[0]} has no training image after the split; "
                        "add images of it to the training data")
    return out


def repartition(assignment: Any, labels: Any, seed: int) -> Any:
    """A fresh assignment: the samples of ``assignment``'s train and validation parts redrawn
    into a train and a validation part of the same sizes, stratified by class, with ``seed``
    (repeated random sub-sampling); test samples keep their part."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    out = np.asarray(assignment, dtype=np.int8).copy()
    labels = np.asarray(labels)
    pool, n_val = np.flatnonzero(out != TEST), int((out == VAL).sum())
    try:
        _, val = train_test_split(pool, test_size=n_val, stratify=labels[pool], random_state=seed)
    except ValueError as e:
        raise DataError(f"dataset: cannot redraw a stratified validation split of {n_val} image(s) from the "
                        f"{len(pool)} train + validation images ({e}); re-evaluate on the study's own split") from None
    out[pool], out[val] = TRAIN, VAL
    return out


def labels_digest(labels: Any) -> str:
    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(labels, dtype=np.int64).tobytes()).hexdigest()


def split_record(labels: Any, assignment: Any, **settings: Any) -> dict[str, Any]:
    """JSON-safe record of a split: packed assignment, label hash, sizes, and ``settings``."""
    import numpy as np

    assignment = np.asarray(assignment, dtype=np.int8)
    counts = np.bincount(assignment, minlength=3)
    return {
        "version": RECORD_VERSION,
        "samples": int(len(assignment)),
        "labels_sha256": labels_digest(labels),
        "sizes": {"train": int(counts[TRAIN]), "val": int(counts[VAL]), "test": int(counts[TEST])},
        "assignment": base64.b64encode(zlib.compress(assignment.tobytes(), 9)).decode("ascii"),
        **settings,
    }


def assignment_from_record(record: dict[str, Any], labels: Any, where: str = "the study") -> Any:
    """The stored assignment, after checking it was made for exactly these labels."""
    import numpy as np

    if record.get("version") != RECORD_VERSION:
        raise DataError(f"dataset: {where} stores a split of an unknown format (version {record.get('version')}); "
                        "upgrade scalesearch or start a new study")
    if record["samples"] != len(labels) or record["labels_sha256"] != labels_digest(labels):
        raise DataError(
            f"dataset: the data changed since {where} recorded its split ({record['samples']} images then, "
            f"{len(labels)} now, or different labels); restore the original data or start a new study")
    return np.frombuffer(zlib.decompress(base64.b64decode(record["assignment"])), dtype=np.int8).copy()
