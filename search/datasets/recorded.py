"""The study's dataset, with the split recorded in the study (``ss.split``).

The first worker to load the data stores its split; every later worker, resume and retrain
loads the same split from the study and is refused if the data has changed since.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scalesearch.search.config import attrs
from scalesearch.search.datasets.base import Dataset
from scalesearch.search.datasets.load import load_dataset

if TYPE_CHECKING:
    from scalesearch.search.datasets.spec import DatasetSpec


def load_for_study(study: Any, dataset: DatasetSpec) -> Dataset:
    """``dataset`` loaded with ``study``'s recorded split (recording it on first use)."""
    record = study.user_attrs.get(attrs.SPLIT)
    data = load_dataset(dataset, record=record)
    if record is None:
        study.set_user_attr(attrs.SPLIT, data.split_record)
    return data
