"""Knob importance: a knob that drives an objective scores high, noise scores about zero, and a
family's knobs are ranked over that family's trials only."""

from __future__ import annotations

import random

import pytest

from scalesearch.search.results.importance import bin_labels, epsilon_squared


def test_a_knob_that_drives_the_target_explains_it():
    rng = random.Random(0)
    x = [rng.uniform(0, 1) for _ in range(200)]
    y = [3 * v + rng.gauss(0, 0.1) for v in x]
    assert epsilon_squared(bin_labels(x), y) > 0.8


def test_a_knob_that_does_nothing_scores_about_zero():
    rng = random.Random(1)
    x = [rng.uniform(0, 1) for _ in range(60)]
    y = [rng.gauss(0, 1) for _ in range(60)]
    assert epsilon_squared(bin_labels(x), y) == pytest.approx(0, abs=0.08)


def test_categories_are_groups_and_numbers_are_equal_count_bins():
    assert bin_labels(["a", "b", "a"]) == ["a", "b", "a"]
    labels = bin_labels(list(range(60)))
    assert len(set(labels)) == 6 and all(labels.count(b) == 10 for b in set(labels))


def test_constant_target_or_single_group_scores_zero():
    assert epsilon_squared(["a", "b", "a", "b"], [1.0] * 4) == 0.0
    assert epsilon_squared(["a"] * 5, [1, 2, 3, 4, 5]) == 0.0


def test_a_cost_is_ranked_only_over_the_knobs_that_can_change_it(made_study):
    from scalesearch.search.results.importance import importances
    from scalesearch.search.results.study_view import read_study

    view = read_study(made_study)
    scores, _ = importances(view)
    training = set(view.spec.space.training)
    for_params = {s.knob for s in scores if s.objective == "params"}
    assert for_params and not for_params & training  # lr, weight_decay, label_smoothing cannot change params
    assert not {k for k in for_params if k.endswith("drop_rate") or k.endswith("drop_path_rate")}
    assert {s.knob for s in scores if s.objective == "accuracy"} & training  # they can change accuracy
    assert all(0 <= s.spread <= 1 for s in scores) and any(s.spread > 0 for s in scores)  # spread over re-fits


def test_too_few_trials_draw_no_importance_figure(made_study):
    """No figure, so neither a dashboard figure nor an importance.png (one PNG per figure drawn)."""
    import dataclasses

    from scalesearch.search.results.figures import figure_data
    from scalesearch.search.results.importance import MIN_TRIALS
    from scalesearch.search.results.study_view import read_study

    view = read_study(made_study)
    few = dataclasses.replace(view, points=tuple(view.complete[: MIN_TRIALS - 1]))
    figures = figure_data(few)
    assert "importance" not in figures and "pareto_front" in figures


def _pruned_study(n: int = 24):
    """accuracy vs params, two families; params = base x width x (1 - pruning_ratio): pruning
    removes parameters as much as a width step does."""
    import optuna

    from scalesearch.search.config import attrs
    from scalesearch.search.config.spec import load_spec, spec_to_data

    spec = load_spec(None)
    study = optuna.create_study(directions=spec.directions)
    study.set_user_attr(attrs.SPEC, spec_to_data(spec))
    for i in range(n):
        family, width, ratio = ("resnet", "convnext")[i % 2], (0.125, 0.25, 0.5)[(i // 2) % 3], (0.0, 0.5)[(i // 6) % 2]
        params = int((8_000 if family == "resnet" else 60_000) * width / 0.125 * (1 - ratio))
        config = {"family": family, "model": {"width_multiplier": width, "depth_multiplier": 0.5},
                  "training": {"lr": 0.001 * (1 + i % 4)}, "compression": {"pruning_ratio": ratio}}
        dists = {"family": optuna.distributions.CategoricalDistribution(["resnet", "convnext"]),
                 f"{family}.width_multiplier": optuna.distributions.FloatDistribution(0.1, 0.6),
                 "lr": optuna.distributions.FloatDistribution(1e-3, 1e-2),
                 "pruning_ratio": optuna.distributions.CategoricalDistribution([0.0, 0.5])}
        knobs = {"family": family, f"{family}.width_multiplier": width, "lr": config["training"]["lr"],
                 "pruning_ratio": ratio}
        accuracy = 0.9 + 0.01 * (i % 3)
        study.add_trial(optuna.trial.create_trial(
            values=[accuracy, params], params=knobs, distributions=dists,
            user_attrs={attrs.CONFIG: config, "ss.accuracy": accuracy, "ss.params": params, "ss.epochs_run": 4}))
    return study


def test_pruning_gets_credit_for_params_where_it_removes_parameters():
    from scalesearch.search.results.importance import ALL, importances
    from scalesearch.search.results.study_view import read_study

    scores, _ = importances(read_study(_pruned_study()))
    params = {(s.group, s.knob): s.value for s in scores if s.objective == "params"}
    for group in ("resnet", "convnext"):
        assert params[group, "pruning_ratio"] > 0.15, params
        assert params[group, "width_multiplier"] > 0.15, params
    assert ("lr" not in {k for _, k in params})  # a training knob cannot change params
    # "all trials" ranks the width every family has (stored per family as resnet.width_multiplier),
    # so the family choice does not take its credit unseen.
    assert params[ALL, "width_multiplier"] > 0.05 and (ALL, "pruning_ratio") in params, params


def test_the_importance_note_says_what_is_computed(made_study):
    import re

    from scalesearch.search.results.figures_scaling import importance_figure
    from scalesearch.search.results.study_view import read_study

    title = re.sub(r"<[^>]+>", "", importance_figure(read_study(made_study))["layout"]["title"]["text"].replace("<br>", " "))
    assert "additive model" not in title  # each knob is scored alone (one-way), not in a joint model
    assert "on its own" in title and "need not add up to 100 %" in title
