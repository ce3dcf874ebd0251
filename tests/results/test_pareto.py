"""Dominance, non-dominated sorting, crowding distance, normalisation."""

from __future__ import annotations

import math

from scalesearch.search.results.pareto import (
    crowding_distance,
    dominates,
    non_dominated_sort,
    normalized,
    pareto_indices,
)

DIRS = ["maximize", "minimize"]


def test_dominance_is_strict():
    assert dominates([1, 1], [1, 2]) and not dominates([1, 1], [1, 1]) and not dominates([0, 2], [1, 1])


def test_sort_ranks_fronts_with_directions():
    points = [(0.9, 10), (0.95, 20), (0.9, 20), (0.8, 30), (0.95, 10)]
    assert non_dominated_sort(points, DIRS) == [1, 1, 2, 3, 0]
    assert pareto_indices(points, DIRS) == [4]


def test_ties_share_a_front():
    assert non_dominated_sort([(1, 1), (1, 1)], DIRS) == [0, 0]


def test_crowding_gives_boundaries_infinity():
    d = crowding_distance([(0.9, 1), (0.95, 5), (0.97, 9), (0.99, 100)], DIRS)
    assert math.isinf(d[0]) and math.isinf(d[3]) and 0 < d[1] < math.inf and 0 < d[2] < math.inf


def test_normalized_zero_is_best():
    assert normalized([(0.9, 10), (1.0, 20)], DIRS) == [[1.0, 0.0], [0.0, 1.0]]
