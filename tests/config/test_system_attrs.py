"""Machine data lives in system attrs (out of the dashboard's tables); older studies still read."""

from __future__ import annotations

import optuna
import pytest

from scalesearch.search.config import attrs, system_attrs
from scalesearch.search.results.notes import live_trial
from scalesearch.search.storage.storage import stored_study


@pytest.mark.parametrize(("value", "shown"), [
    (1.3328649999948539, 1.333), (0.9444444444444444, 0.9444), (238112, 238112), (0.000123456, 0.0001235),
    (1234.5678, 1235.0), (0.0, 0.0), (float("inf"), float("inf")), ("cpu", "cpu"),
])
def test_floats_are_rounded_for_display(value, shown):
    assert system_attrs.for_display(value) == shown


def test_metrics_are_rounded_for_people_and_exact_for_programs():
    study = optuna.create_study()
    trial = study.ask()
    system_attrs.store_metrics(trial, {"latency_ms": 1.3328649999948539, "params": 21074})
    system_attrs.store_metrics(trial, {"accuracy": 0.9444444444444444})
    study.tell(trial, 0.0)
    frozen = study.trials[0]
    assert frozen.user_attrs == {"ss.latency_ms": 1.333, "ss.params": 21074, "ss.accuracy": 0.9444}
    assert system_attrs.exact_metrics(frozen) == {"latency_ms": 1.3328649999948539, "params": 21074,
                                                  "accuracy": 0.9444444444444444}


def test_config_and_curve_are_system_attrs_readable_from_running_and_frozen_trials():
    study = optuna.create_study()
    trial = study.ask()
    system_attrs.set_trial_data(trial, attrs.CONFIG, {"family": "resnet"})
    system_attrs.set_trial_data(trial, system_attrs.VAL_CURVE, [0.5, 0.75])
    assert system_attrs.trial_config(trial) == {"family": "resnet"}  # a running optuna.Trial
    study.tell(trial, 0.0)
    frozen = study.trials[0]
    assert frozen.user_attrs == {}
    assert system_attrs.trial_config(frozen) == {"family": "resnet"}
    assert system_attrs.val_curve(frozen) == [0.5, 0.75]


def test_studies_made_before_the_move_still_read():
    """Older studies kept the config, curve and split record as user attrs."""
    storage = optuna.storages.InMemoryStorage()
    optuna.create_study(storage=storage, study_name="old")
    study = stored_study("old", storage)
    record = {"version": 1, "assignment": "eJz", "sizes": {"train": 1}}
    study.set_user_attr(attrs.SPLIT, record)
    study.add_trial(optuna.trial.create_trial(value=0.0, user_attrs={
        attrs.CONFIG: {"family": "convnext"}, system_attrs.VAL_CURVE: [0.9], "ss.accuracy": 0.9}))
    old = study.trials[0]
    assert system_attrs.trial_config(old) == {"family": "convnext"}
    assert system_attrs.val_curve(old) == [0.9]
    assert system_attrs.exact_metrics(old) == {"accuracy": 0.9}
    assert system_attrs.study_data(study, attrs.SPLIT) == record
    system_attrs.set_study_data(study, attrs.SPLIT, record | {"assignment": "new"})
    assert system_attrs.study_data(study, attrs.SPLIT)["assignment"] == "new"  # the system attr wins
    assert system_attrs.trial_config(optuna.trial.create_trial(value=0.0)) == {}


def test_trial_ids_come_from_the_storage_by_study_name_and_number():
    """Two studies in one storage: trial 0 of the second has storage id 1, found through public lookups."""
    storage = optuna.storages.InMemoryStorage()
    optuna.create_study(storage=storage, study_name="a").ask()
    optuna.create_study(storage=storage, study_name="b")
    study = stored_study("b", storage)
    trial = study.ask()
    assert system_attrs.trial_id(storage, "b", trial.number) == 1
    system_attrs.set_trial_data(trial, attrs.CONFIG, {"family": "resnet"})
    assert study.trials[0].system_attrs[attrs.CONFIG] == {"family": "resnet"}
    assert stored_study("a", storage).trials[0].system_attrs == {}
    assert live_trial(study, study.trials[0]).number == 0


def test_a_study_not_opened_by_scalesearch_is_refused_with_the_way_to_open_it():
    with pytest.raises(TypeError, match="not opened by scalesearch.*load_study"):
        system_attrs.study_data(optuna.create_study(study_name="plain"), attrs.SPLIT)
