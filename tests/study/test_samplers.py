"""Samplers by name: each one runs a multi-objective study that early stopping left with pruned trials."""

from __future__ import annotations

import optuna
import pytest

from scalesearch.search.study.sampler_spec import SAMPLER_NAMES
from scalesearch.search.study.samplers import SAMPLERS, make_sampler


def objective(trial):
    """Two objectives; two of every three trials pruned, as early stopping leaves a study."""
    x, y = trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1)
    if trial.number % 3:
        raise optuna.TrialPruned()
    return x, y


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_runs_a_multi_objective_study_with_pruned_trials(name):
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(name, 0, None, 12))
    study.optimize(objective, n_trials=24)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 8 and states.count(optuna.trial.TrialState.PRUNED) == 16


@pytest.mark.parametrize("name", ["tpe", "random"])
def test_seeded_samplers_repeat_their_suggestions(name):
    runs = []
    for _ in range(2):
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(name, 3, None, 12))
        study.optimize(objective, n_trials=15)
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1]


def test_the_samplers_registry_has_exactly_the_names_the_spec_checks():
    assert list(SAMPLERS) == list(SAMPLER_NAMES)
