"""NSGA-II order (front, crowding) with exact ties, and the 2-D hypervolume."""

from __future__ import annotations

import math

from scalesearch.search.results.pareto import rank_and_crowding

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

