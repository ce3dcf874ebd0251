"""``kind: digits`` (the default): scikit-learn's embedded 8x8 digits, 1,797 grey images,
10 classes, no download."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scalesearch.search.datasets.source import ImageSource

if TYPE_CHECKING:
    from scalesearch.search.datasets.spec import DatasetSpec


def load(spec: DatasetSpec) -> ImageSource:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.reshape(-1, 1, 8, 8) / 16.0
    return ImageSource("digits", images, bunch.target, tuple(str(n) for n in bunch.target_names))
