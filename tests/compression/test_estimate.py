"""Issue 15, items 2 and 3: a compressed trial's costs are its deployed model's before training,
so constraints and early stopping judge every trial like with like."""

from __future__ import annotations

import math
from types import SimpleNamespace

import optuna
import pytest

from scalesearch.search.compression.compress import CompressionConfig
from scalesearch.search.compression.estimate import planned_costs
from scalesearch.search.config import attrs, system_attrs
from scalesearch.search.config.spec import load_spec
from scalesearch.search.study.early_stopping import ParetoASHA
from scalesearch.search.study.objective import Objective
from scalesearch.search.study.study import early_stopping_hook
from scalesearch.search.training.models import build_model
from tests.conftest import TINY_OVERRIDES

PRUNED = [*TINY_OVERRIDES, "space.families={resnet: {width_multiplier: 0.125, depth_multiplier: 0.5, block: basic}}",
          "space.compression={pruning_ratio: {choices: [0.5]}, pruning_allocation: uniform, finetune_epochs: 1}",
          "early_stopping.name=asha"]


def _uncompressed_params(spec, data):
    config = {"family": "resnet", "model": {"width_multiplier": 0.125, "depth_multiplier": 0.5, "block": "basic"},
              "seed": 0}
    return sum(p.numel() for p in build_model(config, data).parameters())


def test_costs_before_training_are_the_deployed_ones(tiny_data, fake_trainer):
    spec = load_spec(None, PRUNED)
    before: list[dict] = []
    objective = Objective(spec, tiny_data, "cpu", trainer=fake_trainer,
                          before_training=lambda t: before.append(attrs.trial_metrics(t.user_attrs)))
    study = optuna.create_study(directions=spec.directions)
    study.optimize(objective, n_trials=1)
    (trial,) = study.trials
    deployed = attrs.trial_metrics(trial.user_attrs)
    # Uniform pruning depends only on the architecture: the plan is exact.
    assert before[0]["params"] == deployed["params"] == trial.user_attrs[attrs.planned_key("params")]
    assert before[0]["params"] < 0.5 * _uncompressed_params(spec, tiny_data)  # not the unpruned model's


def test_a_constraint_that_pruning_meets_does_not_stop_the_trial(tiny_data, fake_trainer):
    unpruned = _uncompressed_params(load_spec(None, PRUNED), tiny_data)
    spec = load_spec(None, [*PRUNED, f"constraints=['params <= {int(unpruned * 0.6)}']"])
    hook = early_stopping_hook(spec)
    study = optuna.create_study(directions=spec.directions)
    study.optimize(Objective(spec, tiny_data, "cpu", trainer=fake_trainer, on_epoch=hook.on_epoch,
                             before_training=hook.before_training), n_trials=1)
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.COMPLETE, trial.user_attrs.get(attrs.PRUNE_REASON)
    assert fake_trainer.calls  # it trained


def test_quantization_shows_in_the_planned_size(tiny_data):
    config = {"family": "resnet", "model": {"width_multiplier": 0.125, "depth_multiplier": 0.5, "block": "basic"},
              "seed": 0}
    model = build_model(config, tiny_data)
    plain = planned_costs(model, tiny_data, CompressionConfig())
    int8 = planned_costs(model, tiny_data, CompressionConfig(quantization="int8_dynamic"))
    static = planned_costs(model, tiny_data, CompressionConfig(quantization="int8_static"))
    assert int8["params"] == plain["params"]  # quantization keeps every weight
    assert static["size_mb"] < 0.5 * plain["size_mb"]  # int8 weights


def _frozen(user_attrs, system_attrs=None):
    return SimpleNamespace(user_attrs=user_attrs, system_attrs=system_attrs or {})


def test_rungs_rank_on_planned_costs_for_running_and_finished_trials_alike():
    rule = ParetoASHA(["accuracy", "size_mb"])
    finished = {attrs.planned_key("size_mb"): 1.0, attrs.metric_key("size_mb"): 0.25}  # measured after int8
    running = {attrs.planned_key("size_mb"): 1.0, attrs.metric_key("size_mb"): 1.0}
    assert rule.point(0.9, _frozen(finished)) == rule.point(0.9, _frozen(running)) == pytest.approx([0.9, 0.0])
    assert rule.point(0.9, _frozen({attrs.metric_key("size_mb"): 10.0})) == pytest.approx([0.9, 1.0])  # older
    # The exact planned cost (a system attr) wins over the rounded one people read.
    exact = _frozen({attrs.planned_key("size_mb"): 0.1235}, {attrs.planned_key("size_mb"): 0.12345678})
    assert rule.point(0.9, exact)[1] == math.log10(0.12345678)


def test_planned_costs_are_shown_rounded_and_kept_exact(tiny_data, fake_trainer):
    spec = load_spec(None, PRUNED)
    study = optuna.create_study(directions=spec.directions)
    study.optimize(Objective(spec, tiny_data, "cpu", trainer=fake_trainer), n_trials=1)
    (trial,) = study.trials
    key = attrs.planned_key("size_mb")
    exact, shown = system_attrs.trial_data(trial, key), trial.user_attrs[key]
    assert shown == system_attrs.for_display(exact) and len(repr(shown)) <= 7  # e.g. 0.02871
    assert exact != shown  # the planned size in MB is not a round number
