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
