"""The ``dataset:`` section of a study spec, owned by the datasets package."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AugmentSpec:
    """Training-time augmentation, done on the device, on shuffled training batches only."""

    crop_padding: int = 0  # pad each side by this many pixels, then crop back at random; 0 = off
    hflip: bool = False  # random horizontal flip (right for photos, wrong for digits and text)


@dataclass(frozen=True)
class SyntheticSpec:
    """``kind: synthetic``: seeded class prototypes plus noise, for tests and benchmarks."""

    samples: int = 600
    classes: int = 4
    noise: float = 0.35  # pixel noise std, images in [0, 1]
    seed: int = 0


@dataclass(frozen=True)
class DatasetSpec:
    kind: str = "digits"  # digits | imagefolder | torchvision | synthetic | python (search/datasets)
    name: str = "digits"  # kind torchvision: the dataset class (CIFAR10, MNIST, ...); else a label
    root: str | None = None  # imagefolder / torchvision: the folder holding the data
    input_size: int | None = None  # None: the dataset's native size
    in_chans: int | None = None  # None: from the data (1 = grey, 3 = colour)
    mean: tuple[float, ...] | None = None  # per channel, pixels in [0, 1]; None: train statistics
    std: tuple[float, ...] | None = None
    class_names: tuple[str, ...] | None = None  # None: from the data (folder names, ...)
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    split_seed: int = 0
    augment: AugmentSpec = field(default_factory=AugmentSpec)
    on_corrupt: str = "fail"  # fail | skip (with a warning naming each file)
    stream: bool | None = None  # None: stream from disk only when decoded data > max_memory_mb
    max_memory_mb: float = 2048.0
    num_workers: int | None = None  # DataLoader workers when streaming; None: cores - 1 (max 4)
    cache: bool = True  # keep decoded images as tensors on disk, keyed by content
    cache_dir: str | None = None  # None: $SCALESEARCH_CACHE, else ~/.cache/scalesearch
    synthetic: SyntheticSpec = field(default_factory=SyntheticSpec)
    fingerprint: str | None = None  # kind python: sha256 of the data given to scalesearch.run(data=...)


#: Fields only one kind reads (field -> kind); a written-out section of another kind leaves them out.
KIND_FIELDS = {"synthetic": "synthetic", "fingerprint": "python"}
#: Kinds whose ``name`` is only a label, taken from the data when it is left at the default.
LABELLED_KINDS = ("imagefolder", "python")


def for_kind(data: dict[str, Any]) -> dict[str, Any]:
    """A ``dataset`` section as plain data without what belongs to other kinds: the synthetic
    settings and the Python fingerprint unless it is that kind, and the default ``name: digits``
    of a kind that labels itself (an image folder is named after its folder). Reading it back
    (``DatasetSpec`` defaults) gives the same dataset."""
    kind = data.get("kind", DatasetSpec.kind)
    out = {k: v for k, v in data.items() if KIND_FIELDS.get(k, kind) == kind}
    if kind in LABELLED_KINDS and out.get("name") == DatasetSpec.name:
        del out["name"]
    return out


__all__ = ["AugmentSpec", "DatasetSpec", "SyntheticSpec", "for_kind"]
