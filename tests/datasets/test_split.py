"""Splits: stratified, seeded, recorded in the study, verified against the data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from scalesearch.errors import DataError
from scalesearch.search.config import attrs
from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.datasets import clear_memory_cache, load_dataset
from scalesearch.search.datasets.recorded import load_for_study
from scalesearch.search.datasets.recorded import split_record as recorded_split
from scalesearch.search.datasets.source import POOL, TEST, VAL
from scalesearch.search.datasets.split import TRAIN, assign, assignment_from_record, split_record
from tests.datasets_helpers import digits_folder

LABELS = np.repeat(np.arange(4), 25)


def test_split_is_stratified_seeded_and_disjoint():
    a = assign(LABELS, None, 0.2, 0.2, seed=0)
    assert np.bincount(a, minlength=3).tolist() == [60, 20, 20]
    for part in (TRAIN, VAL, TEST):
        assert np.bincount(LABELS[a == part], minlength=4).min() >= 4  # each class in each part
    assert (assign(LABELS, None, 0.2, 0.2, seed=0) == a).all()
    assert (assign(LABELS, None, 0.2, 0.2, seed=1) != a).any()


def test_pinned_parts_are_kept_and_the_rest_is_carved():
    parts = np.full(100, POOL, np.int8)
    parts[:20] = TEST
    a = assign(LABELS, parts, 0.25, 0.2, seed=0)
    assert (a[:20] == TEST).all() and (a[20:] != TEST).all()
    assert (a == VAL).sum() == 20  # 25% of the 80 pooled


def test_digits_split_matches_the_foundation_sizes():
    data = load_dataset()
    assert (len(data.train), len(data.val), len(data.test)) == (1077, 360, 360)


def test_too_small_classes_are_clear_errors():
    with pytest.raises(DataError, match="cannot hold one image of each of 4 classes; add images or raise"):
        assign(LABELS[::10], None, 0.1, 0.1, seed=0)
    with pytest.raises(DataError, match="single image"):
        assign(np.array([0, 0, 0, 0, 1, 1, 1, 1, 2]), None, 0.4, 0.4, seed=0)


def test_record_round_trip_and_refusal_on_changed_labels():
    a = assign(LABELS, None, 0.2, 0.2, seed=3)
    record = split_record(LABELS, a, seed=3)
    assert record["sizes"] == {"train": 60, "val": 20, "test": 20} and record["seed"] == 3
    assert (assignment_from_record(record, LABELS) == a).all()
    changed = LABELS.copy()
    changed[0] = 3
    with pytest.raises(DataError, match="the data changed"):
        assignment_from_record(record, changed)
    with pytest.raises(DataError, match="the data changed"):
        assignment_from_record(record, LABELS[:-1])


def study_for(tmp_path, root):
    import optuna

    from scalesearch.search.storage.storage import open_storage, stored_study

    spec = spec_from_data({"dataset": {"kind": "imagefolder", "root": str(root)}})
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}")
    optuna.create_study(storage=storage, study_name="s")
    return stored_study("s", storage), spec


def test_the_study_records_the_split_and_later_loads_reuse_it(tmp_path):
    root = digits_folder(tmp_path / "imgs", per_class=10, classes=3)
    study, spec = study_for(tmp_path, root)
    first = load_for_study(study, spec.dataset)
    record = recorded_split(study)
    assert "assignment" not in study.user_attrs[attrs.SPLIT]  # people see sizes, not the packed bytes
    assert record["sizes"] == {"train": 18, "val": 6, "test": 6}
    # A worker with another split seed still gets the recorded split: the study decides.
    clear_memory_cache()
    other = dataclasses.replace(spec, dataset=dataclasses.replace(spec.dataset, split_seed=7))
    again = load_for_study(study, other.dataset)
    assert (again.val.x == first.val.x).all() and (again.test.y == first.test.y).all()


def test_changed_data_is_refused_on_resume(tmp_path):
    root = digits_folder(tmp_path / "imgs", per_class=10, classes=3)
    study, spec = study_for(tmp_path, root)
    load_for_study(study, spec.dataset)
    (root / "digit_2" / "00029.png").unlink()
    clear_memory_cache()
    with pytest.raises(DataError, match="the data changed since the study recorded its split"):
        load_for_study(study, spec.dataset)


def test_repartition_redraws_train_and_val_stratified_and_never_touches_test():
    from scalesearch.search.datasets.split import repartition

    a = assign(LABELS, None, 0.2, 0.2, seed=0)
    one, two = repartition(a, LABELS, seed=1), repartition(a, LABELS, seed=2)
    for b in (one, two):
        assert ((b == TEST) == (a == TEST)).all()  # the test part as it was, nothing moved in or out
        assert np.bincount(b, minlength=3).tolist() == [60, 20, 20]  # the study's sizes
        assert np.bincount(LABELS[b == VAL], minlength=4).tolist() == [5, 5, 5, 5]  # stratified
        assert ((b == VAL) != (a == VAL)).any()  # not the validation images the study scored on
    assert ((one == VAL) != (two == VAL)).any()
    assert (repartition(a, LABELS, seed=1) == one).all()  # reproducible from its seed
    with pytest.raises(DataError, match="cannot redraw a stratified validation split"):
        repartition(np.array([0, 0, 1, 0, 0, 2], np.int8), np.array([0, 0, 0, 0, 1, 2]), seed=0)  # one 1 in the pool


def test_a_resplit_load_keeps_the_recorded_test_split():
    from sklearn.datasets import load_digits

    labels, record = load_digits().target, load_dataset().split_record
    data = load_dataset(record=record, resplit=7)
    a, b = assignment_from_record(record, labels), assignment_from_record(data.split_record, labels)
    assert data.split_record["resplit"] == 7 and ((b == TEST) == (a == TEST)).all() and ((b == VAL) != (a == VAL)).any()
    assert (len(data.train), len(data.val), len(data.test)) == (1077, 360, 360)
