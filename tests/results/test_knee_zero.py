"""Issue 15, item 7: the knee takes no logarithm of a zero objective."""

from __future__ import annotations

import optuna

from scalesearch.search.config import attrs
from scalesearch.search.config.spec import load_spec
from scalesearch.search.results.export import knee_scale, select_trial


def test_a_zero_cost_is_scaled_linearly_not_clamped_to_log_1e_minus_12():
    assert knee_scale([0.0, 0.002, 0.01], "minimize") == [0.0, 0.002, 0.01]
    assert knee_scale([10.0, 1000.0], "minimize") == [1.0, 3.0]
    assert knee_scale([0.9, 0.99], "maximize") == [0.9, 0.99]


def test_knee_with_a_zero_accuracy_std_picks_the_compromise():
    spec = load_spec(None, ["objectives=[accuracy, accuracy_std]"])
    study = optuna.create_study(directions=spec.directions)
    # (accuracy, accuracy_std): a front of three. Linear std: trial 1 is nearest the ideal point.
    # With log10(max(v, 1e-12)), the zero became -12, trial 1's 0.002 looked as bad as 0.01, and
    # the pick fell to trial 0.
    for i, (acc, std) in enumerate([(0.99, 0.010), (0.97, 0.002), (0.96, 0.0)]):
        config = {"family": "resnet", "model": {}, "training": {}, "seed": i}
        study.add_trial(optuna.trial.create_trial(values=[acc, std], user_attrs={
            attrs.CONFIG: config, "ss.accuracy": acc, "ss.accuracy_std": std}))
    assert select_trial(study, spec, "knee").number == 1
