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
