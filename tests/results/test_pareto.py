"""Dominance, non-dominated sorting, crowding distance, normalisation."""

from __future__ import annotations

import math

import pytest

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


def _peeling_sort(points, directions):
    """The definition: peel off the non-dominated points, front after front (O(n^2) per front)."""
    from scalesearch.search.results.pareto import _as_min, dominates

    mins = _as_min(points, directions)
    ranks, remaining, rank = [-1] * len(mins), set(range(len(mins))), 0
    while remaining:
        front = {i for i in remaining if not any(dominates(mins[j], mins[i]) for j in remaining if j != i)}
        for i in front:
            ranks[i] = rank
        remaining -= front
        rank += 1
    return ranks


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_fast_non_dominated_sort_matches_the_definition(dims, seed):
    """Random points on a coarse grid (many ties and duplicates), mixed directions."""
    import random

    from scalesearch.search.results.pareto import non_dominated_sort

    rng = random.Random(seed)
    directions = ["maximize", "minimize", "minimize"][:dims]
    points = [[rng.randint(0, 6) / 2 for _ in range(dims)] for _ in range(120)]
    assert non_dominated_sort(points, directions) == _peeling_sort(points, directions)


def test_a_rung_ranking_among_thousands_of_peers_is_fast_enough_to_be_counted():
    """Early stopping ranks a trial among every peer at its rung: 2 objectives sort in n log n."""
    import random

    from scalesearch.search.results import pareto

    rng = random.Random(0)
    points = [[rng.random(), rng.random()] for _ in range(5000)]
    calls = []
    original = pareto.dominates
    pareto.dominates = lambda a, b: calls.append(1) or original(a, b)
    try:
        pareto.rank_and_crowding(points, ["maximize", "minimize"])
    finally:
        pareto.dominates = original
    assert calls == []  # no pairwise dominance checks at all
