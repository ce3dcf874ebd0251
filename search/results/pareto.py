"""Pareto dominance, non-dominated sorting and crowding distance over plain value lists.

Directions are Optuna's (``"maximize"``/``"minimize"``); values are compared after flipping
maximized ones, so every function here minimises.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence


def _signs(directions: Sequence[str]) -> list[float]:
    return [-1.0 if d == "maximize" else 1.0 for d in directions]


def _as_min(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[list[float]]:
    signs = _signs(directions)
    return [[s * v for s, v in zip(signs, p, strict=True)] for p in points]


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` dominates ``b`` (both already minimised)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def non_dominated_sort(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[int]:
    """The front rank of each point (0 = Pareto-optimal).

    One or two objectives (early stopping's usual accuracy and one cost): O(n log n), so a rung
    decision among thousands of peers stays cheap. More: Deb's fast non-dominated sort, O(m n^2).
    """
    mins = _as_min(points, directions)
    if mins and len(mins[0]) <= 2 and not any(v != v for p in mins for v in p):  # v != v: NaN
        return _sort_2d([(p[0], p[1] if len(p) > 1 else 0.0) for p in mins])
    return _sort_deb(mins)


def _sort_2d(points: list[tuple[float, float]]) -> list[int]:
    """Fronts of 2-D points (minimised). In order of (f1, f2), a point is dominated by an earlier
    distinct point iff that one's f2 is no larger; so it joins the first front whose smallest f2
    so far is larger than its own (those smallest f2 never decrease from front to front).
    Identical points do not dominate each other: they join one front together."""
    ranks = [-1] * len(points)
    front_min: list[float] = []
    order = sorted(range(len(points)), key=lambda i: points[i])
    k = 0
    while k < len(order):
        same = k
        while same < len(order) and points[order[same]] == points[order[k]]:
            same += 1
        f2 = points[order[k]][1]
        front = bisect.bisect_right(front_min, f2)
        if front == len(front_min):
            front_min.append(f2)
        else:
            front_min[front] = min(front_min[front], f2)
        for i in order[k:same]:
            ranks[i] = front
        k = same
    return ranks


def _sort_deb(mins: list[list[float]]) -> list[int]:
    n = len(mins)
    dominated_by = [0] * n  # how many points dominate i
    dominates_list: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if dominates(mins[i], mins[j]):
                dominates_list[i].append(j)
                dominated_by[j] += 1
            elif dominates(mins[j], mins[i]):
                dominates_list[j].append(i)
                dominated_by[i] += 1
    ranks = [-1] * n
    front = [i for i in range(n) if dominated_by[i] == 0]
    rank = 0
    while front:
        following = []
        for i in front:
            ranks[i] = rank
            for j in dominates_list[i]:
                dominated_by[j] -= 1
                if dominated_by[j] == 0:
                    following.append(j)
        front, rank = following, rank + 1
    return ranks


def pareto_indices(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[int]:
    """Indices of the Pareto-optimal points, in input order."""
    return [i for i, r in enumerate(non_dominated_sort(points, directions)) if r == 0]


def crowding_distance(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[float]:
    """NSGA-II crowding distance within one front (boundary points get infinity)."""
    mins = _as_min(points, directions)
    n = len(mins)
    if n <= 2:
        return [float("inf")] * n
    distance = [0.0] * n
    for k in range(len(mins[0])):
        order = sorted(range(n), key=lambda i: mins[i][k])
        low, high = mins[order[0]][k], mins[order[-1]][k]
        distance[order[0]] = distance[order[-1]] = float("inf")
        if high == low:
            continue
        for prev, cur, nxt in zip(order, order[1:], order[2:], strict=False):
            distance[cur] += (mins[nxt][k] - mins[prev][k]) / (high - low)
    return distance


def normalized(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[list[float]]:
    """Each objective scaled to [0, 1] over ``points``, 0 = best."""
    mins = _as_min(points, directions)
    if not mins:
        return []
    lows = [min(col) for col in zip(*mins, strict=True)]
    highs = [max(col) for col in zip(*mins, strict=True)]
    return [[(v - lo) / (hi - lo) if hi > lo else 0.0 for v, lo, hi in zip(p, lows, highs, strict=True)] for p in mins]


def rank_and_crowding(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[tuple[int, float]]:
    """``(front rank, crowding distance within that front)`` for each point: NSGA-II's order.

    A point ranks above another when its front is lower, or the front is the same and its
    crowding distance larger. Identical points share one distance, so they tie exactly.
    """
    ranks = non_dominated_sort(points, directions)
    distance = [0.0] * len(points)
    fronts: dict[int, list[int]] = {}
    for i, rank in enumerate(ranks):
        fronts.setdefault(rank, []).append(i)
    for members in fronts.values():
        unique = list(dict.fromkeys(tuple(points[i]) for i in members))
        by_point = dict(zip(unique, crowding_distance(unique, directions), strict=True))
        for i in members:
            distance[i] = by_point[tuple(points[i])]
    return list(zip(ranks, distance, strict=True))
