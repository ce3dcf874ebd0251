"""``kind: synthetic``: a seeded, learnable stand-in for tests and benchmarks.

Each class has a smooth random prototype image; a sample is its prototype plus pixel noise.
Size comes from ``dataset.input_size`` (default 8) and ``dataset.in_chans`` (default 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scalesearch.search.datasets.source import ImageSource

if TYPE_CHECKING:
    from scalesearch.search.datasets.spec import DatasetSpec

DEFAULT_SIZE = 8


def load(spec: DatasetSpec) -> ImageSource:
    import numpy as np

    s = spec.synthetic
    size, chans = spec.input_size or DEFAULT_SIZE, spec.in_chans or 1
    rng = np.random.default_rng(s.seed)
    coarse = rng.random((s.classes, chans, 3, 3))
    ramp = np.linspace(0, 2, size)  # bilinear upsampling of the 3x3 prototypes to size x size
    low = np.minimum(ramp.astype(int), 1)
    frac = ramp - low
    rows = coarse[:, :, low] * (1 - frac)[:, None] + coarse[:, :, low + 1] * frac[:, None]
    prototypes = rows[..., low] * (1 - frac) + rows[..., low + 1] * frac
    labels = np.arange(s.samples) % s.classes
    rng.shuffle(labels)
    images = prototypes[labels] + s.noise * rng.standard_normal((s.samples, chans, size, size))
    images = np.clip(images, 0.0, 1.0).astype(np.float32)
    return ImageSource("synthetic" if spec.name == "digits" else spec.name, images, labels.astype(np.int64),
                       tuple(f"class_{i}" for i in range(s.classes)))
