"""The objective with a fake trainer: measured attrs, diverging trials, build failures."""

from __future__ import annotations

import math

import optuna
import pytest

from scalesearch.errors import ModelBuildError
from scalesearch.search.config import attrs, system_attrs
from scalesearch.search.config.spec import load_spec
from scalesearch.search.study.objective import Objective, constraints_func
from tests.conftest import TINY_OVERRIDES, FakeTrainer


@pytest.fixture
def spec():
    return load_spec(None, TINY_OVERRIDES)


def test_every_trial_stores_every_measurement(spec, tiny_data, fake_trainer):
    study = optuna.create_study(directions=spec.directions)
    study.optimize(Objective(spec, tiny_data, "cpu", trainer=fake_trainer), n_trials=2)
    for trial in study.trials:
        assert trial.state == optuna.trial.TrialState.COMPLETE
        metrics = attrs.trial_metrics(trial.user_attrs)
        for key in ("accuracy", "params", "flops", "latency_ms", "latency_ms_batch", "size_bytes", "size_mb",
                    "train_seconds", "epochs_run", "latency_batch_size"):
            assert key in metrics, key
        exact = system_attrs.exact_metrics(trial)
        assert trial.values == [exact["accuracy"], exact["params"]]  # objectives at full precision
        assert metrics["accuracy"] == system_attrs.for_display(exact["accuracy"])  # people read it rounded
        assert system_attrs.val_curve(trial) and system_attrs.VAL_CURVE not in trial.user_attrs
        assert system_attrs.trial_config(trial)["family"] in spec.space.families
        assert attrs.CONFIG not in trial.user_attrs  # machine data stays out of the dashboard's table


def test_searched_and_fixed_training_knobs_reach_the_trainer(spec, tiny_data, fake_trainer):
    study = optuna.create_study(directions=spec.directions)
    study.optimize(Objective(spec, tiny_data, "cpu", trainer=fake_trainer), n_trials=1)
    cfg = fake_trainer.calls[0]
    trial = study.trials[0]
    assert cfg.lr == pytest.approx(trial.params["lr"])
    assert cfg.epochs == 1 and cfg.schedule == "onecycle"
    assert cfg.grad_clip == spec.training.grad_clip
    assert cfg.seed == spec.seed + trial.number


def test_diverging_trial_is_pruned_with_its_reason(spec, tiny_data):
    trainer = FakeTrainer(diverge_when=lambda cfg: True)
    study = optuna.create_study(directions=spec.directions)
    study.optimize(Objective(spec, tiny_data, "cpu", trainer=trainer), n_trials=2)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.PRUNED] * 2
    assert "loss became nan" in study.trials[0].user_attrs[attrs.PRUNE_REASON]


def test_build_failure_fails_the_trial_naming_family_and_config(spec, tiny_data, fake_trainer, monkeypatch):
    from scalesearch.spaces import registry

    family = registry.get_family("resnet")
    broken = registry.Family(family.name, lambda io, **kw: 1 / 0, family.description, family.knobs)
    monkeypatch.setitem(registry._FAMILIES, "resnet", broken)
    monkeypatch.setitem(registry._FAMILIES, "convnext", broken)
    study = optuna.create_study(directions=spec.directions)
    study.optimize(Objective(spec, tiny_data, "cpu", trainer=fake_trainer), n_trials=1, catch=(ModelBuildError,))
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.FAIL
    family_name = system_attrs.trial_config(trial)["family"]
    assert trial.user_attrs[attrs.FAIL_REASON] == f"{family_name} could not be built: ZeroDivisionError: division by zero"
    assert "width_multiplier" in system_attrs.trial_data(trial, attrs.ERROR)  # the whole error, config too


def test_constraints_become_optuna_violations(tiny_data, fake_trainer):
    spec = load_spec(None, TINY_OVERRIDES + ["constraints=['params <= 30000']"])
    func = constraints_func(spec)
    study = optuna.create_study(directions=spec.directions)
    study.optimize(Objective(spec, tiny_data, "cpu", trainer=fake_trainer), n_trials=2)
    for trial in study.trials:
        (violation,) = func(trial)
        assert math.isclose(violation, trial.user_attrs["ss.params"] - 30000)
    assert constraints_func(load_spec(None, TINY_OVERRIDES)) is None
