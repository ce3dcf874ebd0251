"""Issue 15, item 9: constraints reach Optuna 5's samplers through ``trial.set_constraint``
(no FutureWarning for the deprecated ``constraints_func``), and Optuna 4 keeps its route."""

from __future__ import annotations

import warnings

import optuna
import pytest

from scalesearch.search.config.spec import load_spec
from scalesearch.search.study import samplers
from scalesearch.search.study.objective import Objective, constraints_func
from scalesearch.search.study.samplers import SAMPLERS, make_sampler
from tests.conftest import TINY_OVERRIDES

CONSTRAINED = [*TINY_OVERRIDES, "constraints=['params <= 30000']"]


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_no_sampler_is_given_the_deprecated_argument(name):
    spec = load_spec(None, CONSTRAINED)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        make_sampler(name, 0, constraints_func(spec), 12)


def test_each_trial_stores_its_violations_for_the_sampler(tiny_data, fake_trainer):
    spec = load_spec(None, CONSTRAINED)
    study = optuna.create_study(directions=spec.directions, sampler=make_sampler("tpe", 0, constraints_func(spec)))
    study.optimize(Objective(spec, tiny_data, "cpu", trainer=fake_trainer), n_trials=3)
    for trial in study.trials:
        assert trial.constraints == {"params <= 30000": pytest.approx(trial.user_attrs["ss.params"] - 30000)}


def test_an_optuna_without_set_constraint_gets_constraints_func(monkeypatch):
    monkeypatch.setattr(samplers, "trials_store_constraints", lambda: False)  # Optuna 4
    spec = load_spec(None, CONSTRAINED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        sampler = make_sampler("nsga2", 0, constraints_func(spec), 12)
    assert sampler._constraints_func is not None
