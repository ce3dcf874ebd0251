"""Samplers by name, and TPE's "good" group in multi-objective studies with pruned trials."""

from __future__ import annotations

import math
import warnings

import optuna
import pytest

from scalesearch.search.samplers import SAMPLERS, make_sampler


@pytest.fixture(autouse=True)
def _quiet():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def objective(trial):
    """Two objectives; two of every three trials pruned, as early stopping leaves a study."""
    x, y = trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1)
    if trial.number % 3:
        raise optuna.TrialPruned()
    return x, y


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_runs_a_multi_objective_study_with_pruned_trials(name):
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(name, 0, None, 12))
    study.optimize(objective, n_trials=12)
    assert len(study.trials) == 12


def test_tpe_good_group_counts_complete_trials_only_with_several_objectives():
    sampler = make_sampler("tpe", 0, None, 30)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    study.optimize(objective, n_trials=40)
    complete = len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
    assert complete == 14
    # Optuna's own rule would take ceil(0.1 * 39) = 4 trials, every complete one's share of 10 %
    # counting pruned trials; the best 10 % of the complete trials is 2.
    assert sampler._good_group(39) == math.ceil(0.1 * (complete - 1)) == 2


def test_tpe_good_group_is_optunas_in_single_objective_studies():
    sampler = make_sampler("tpe", 0, None, 30)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda t: objective(t)[0], n_trials=40)
    assert sampler._good_group(39) == 4  # ceil(0.1 n), pruned trials counted (TPE ranks their curves)


def test_tpe_warns_about_nothing_it_chose_itself():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        make_sampler("tpe", 0, None, 30)  # ``gamma`` is deprecated in Optuna, and set on purpose
