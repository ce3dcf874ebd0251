"""NSGA-II order (front, crowding) with exact ties, and the 2-D hypervolume."""

from __future__ import annotations

import math
import random

import pytest

from scalesearch.search.results.pareto import hypervolume_2d, rank_and_crowding

MAX_MIN = ["maximize", "minimize"]


def test_rank_and_crowding_orders_fronts_then_spread():
    points = [(0.9, 3.0), (0.95, 4.0), (0.97, 5.0), (0.92, 3.5), (0.8, 4.5)]
    keys = rank_and_crowding(points, MAX_MIN)
    assert [rank for rank, _ in keys] == [0, 0, 0, 0, 1]
    assert math.isinf(keys[0][1]) and math.isinf(keys[2][1])  # the front's two ends
    assert 0 < keys[3][1] < keys[1][1]  # (0.92, 3.5) is crowded against (0.9, 3.0)


def test_identical_points_share_rank_and_distance():
    points = [(0.9, 3.0), (0.95, 4.0), (0.95, 4.0), (0.97, 5.0)]
    keys = rank_and_crowding(points, MAX_MIN)
    assert keys[1] == keys[2] and keys[1][0] == 0 and math.isfinite(keys[1][1])


def test_hypervolume_of_one_point_is_its_box():
    assert hypervolume_2d([(0.9, 1.0)], MAX_MIN, (0.5, 3.0)) == pytest.approx(0.4 * 2.0)


def test_hypervolume_of_a_staircase():
    # Boxes to the reference (0, 10): union of [0,0.9]x[2,10] and [0,0.95]x[5,10].
    hv = hypervolume_2d([(0.9, 2.0), (0.95, 5.0)], MAX_MIN, (0.0, 10.0))
    assert hv == pytest.approx(0.9 * 8 + 0.05 * 5)


def test_dominated_and_outside_points_add_nothing():
    base = hypervolume_2d([(0.9, 2.0), (0.95, 5.0)], MAX_MIN, (0.0, 10.0))
    more = [(0.9, 2.0), (0.95, 5.0), (0.85, 6.0), (0.9, 2.0), (0.99, 10.0), (-0.1, 1.0)]
    assert hypervolume_2d(more, MAX_MIN, (0.0, 10.0)) == pytest.approx(base)
    assert hypervolume_2d([], MAX_MIN, (0.0, 10.0)) == 0.0


def test_hypervolume_matches_a_grid_count():
    rng = random.Random(0)
    points = [(rng.random(), rng.random()) for _ in range(12)]
    n = 400
    inside = sum(
        any(x <= a and y <= b for a, b in points)
        for x in ((i + 0.5) / n for i in range(n))
        for y in ((j + 0.5) / n for j in range(n))
    )
    # Both maximised, reference (0, 0): the grid estimate converges to the exact area.
    assert hypervolume_2d(points, ["maximize", "maximize"], (0.0, 0.0)) == pytest.approx(inside / n**2, abs=5e-3)


def test_hypervolume_needs_two_objectives():
    with pytest.raises(ValueError):
        hypervolume_2d([(1.0, 2.0, 3.0)], ["maximize"] * 3, (0.0, 0.0, 0.0))
