"""Dataset kinds, chosen by ``dataset.kind`` from one dict. A kind is a loader returning an
:class:`ImageSource` (in memory) or :class:`FileSource` (streamed), plus a spec check.

Adding a kind: write ``load(spec)`` in its own module, add it below, and add its name, spec check
and description to ``search/datasets/kinds_spec.py`` (what the spec reads without the loaders).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scalesearch.search.datasets import (
    digits,
    imagefolder,
    python_data,
    synthetic,
    torchvision_root,
)
from scalesearch.search.datasets.kinds_spec import KINDS, get_kind_spec
from scalesearch.search.datasets.source import FileSource, ImageSource

if TYPE_CHECKING:
    from scalesearch.search.datasets.spec import DatasetSpec


@dataclass(frozen=True)
class Kind:
    load: Callable[[DatasetSpec], ImageSource | FileSource]
    check: Callable[[DatasetSpec], None]
    description: str


#: Each kind's loader; the names are exactly kinds_spec.KINDS's (tests/datasets/test_registry.py).
LOADERS: dict[str, Callable[[DatasetSpec], ImageSource | FileSource]] = {
    "digits": digits.load,
    "imagefolder": imagefolder.load,
    "torchvision": torchvision_root.load,
    "synthetic": synthetic.load,
    "python": python_data.load,
}

DATASETS: dict[str, Kind] = {name: Kind(LOADERS[name], kind.check, kind.description) for name, kind in KINDS.items()}


def get_kind(name: str) -> Kind:
    get_kind_spec(name)  # an unknown name: the one-line error
    return DATASETS[name]
