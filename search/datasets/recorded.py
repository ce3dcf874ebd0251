"""The study's dataset, with the split recorded in the study (``ss.split``).

The first worker to load the data stores its split; every later worker, resume and retrain
loads the same split from the study and is refused if the data has changed since. The record
(with its packed assignment) is a study *system* attr, out of optuna-dashboard's attribute table;
the user attr ``ss.split`` shows people its sizes (search/config/system_attrs.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scalesearch.search.config import attrs
from scalesearch.search.config.system_attrs import set_study_data, study_data
from scalesearch.search.datasets.base import Dataset
from scalesearch.search.datasets.load import load_dataset

if TYPE_CHECKING:
    from scalesearch.search.datasets.spec import DatasetSpec


def load_for_study(study: Any, dataset: DatasetSpec) -> Dataset:
    """``dataset`` loaded with ``study``'s recorded split (recording it on first use)."""
    record = split_record(study)
    data = load_dataset(dataset, record=record)
    if record is None:
        set_study_data(study, attrs.SPLIT, data.split_record)
        study.set_user_attr(attrs.SPLIT, split_summary(data.split_record))
    return data


def split_record(study: Any) -> dict[str, Any] | None:
    """The split recorded in ``study`` (a study made before the record moved keeps it as a user
    attr), or None when no worker has loaded the data yet."""
    record = study_data(study, attrs.SPLIT)
    return record if isinstance(record, dict) and "assignment" in record else None


def split_summary(record: dict[str, Any]) -> dict[str, Any]:
    """What people read of a split: its sizes and settings, not the packed assignment or hash."""
    return {k: v for k, v in record.items() if k not in ("assignment", "labels_sha256", "version")}
