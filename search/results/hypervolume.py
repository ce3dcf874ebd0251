"""Exact hypervolume in any number of objectives, and its history over a study.

:func:`hypervolume` takes points already turned into minimisation; 2-D is a sweep, more
objectives are sliced along the last one (exact; fine for the fronts of a study, tens of points).
:func:`scaled_objectives` puts a study's objectives on one footing for a hypervolume that
people can read: each scaled to [0, 1] over the given points (0 = best), costs on log10 when
they span a decade or more; the reference point is 1.1 in every objective, and the volume is
reported as a share of the reference box (1.1^n), so 1.0 would be one trial best at everything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scalesearch.search.results.pareto import dominates

REFERENCE = 1.1


def _front(points: Sequence[Sequence[float]]) -> list[tuple[float, ...]]:
    unique = list(dict.fromkeys(tuple(p) for p in points))
    return [p for p in unique if not any(dominates(q, p) for q in unique if q != p)]


def hypervolume(points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """Volume dominated by ``points`` (minimised) and bounded by ``reference``.

    Example: ``hypervolume([(1, 2), (2, 1)], (3, 3)) == 3.0``.
    """
    inside = [tuple(p) for p in points if all(x < r for x, r in zip(p, reference, strict=True))]
    return _volume(_front(inside), tuple(reference))


def _volume(points: list[tuple[float, ...]], reference: tuple[float, ...]) -> float:
    if not points:
        return 0.0
    if len(reference) == 1:
        return reference[0] - min(p[0] for p in points)
    if len(reference) == 2:
        volume, floor = 0.0, reference[1]
        for x, y in sorted(points):
            if y < floor:
                volume += (reference[0] - x) * (floor - y)
                floor = y
        return volume
    # Slice along the last objective: between consecutive levels, the points at or below the
    # lower level dominate a (d-1)-dimensional volume times the slice's thickness.
    order = sorted(points, key=lambda p: p[-1])
    volume = 0.0
    for i, point in enumerate(order):
        top = order[i + 1][-1] if i + 1 < len(order) else reference[-1]
        if top > point[-1]:
            volume += _volume(_front([p[:-1] for p in order[:i + 1]]), reference[:-1]) * (top - point[-1])
    return volume


def log_scaled(values: Sequence[float], direction: str) -> bool:
    """Whether a cost is compared on log10: minimised, positive, spanning a decade or more."""
    return direction == "minimize" and bool(values) and min(values) > 0 and max(values) / min(values) >= 10


def scaled_objectives(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[list[float]]:
    """Each objective mapped to [0, 1] over ``points`` (0 = best), costs on log10 when they span
    a decade or more; an objective that does not vary maps to 0."""
    columns = []
    for column, direction in zip(zip(*points, strict=True), directions, strict=True):
        values = [math.log10(v) for v in column] if log_scaled(column, direction) else list(column)
        if direction == "maximize":
            values = [-v for v in values]
        low, high = min(values), max(values)
        columns.append([(v - low) / (high - low) if high > low else 0.0 for v in values])
    return [list(row) for row in zip(*columns, strict=True)] if columns else [[] for _ in points]


def hypervolume_history(points: Sequence[Sequence[float] | None], directions: Sequence[str]) -> list[float]:
    """The scaled hypervolume (share of the reference box) after each point in turn; ``None``
    entries (a trial without values, e.g. stopped early or infeasible) leave it unchanged."""
    given = [p for p in points if p is not None]
    if not given:
        return [0.0] * len(points)
    scaled = iter(scaled_objectives(given, directions))
    reference = [REFERENCE] * len(directions)
    box = REFERENCE ** len(directions)
    front: list[tuple[float, ...]] = []
    history, current = [], 0.0
    for point in points:
        if point is not None:
            p = tuple(next(scaled))
            if not any(q == p or dominates(q, p) for q in front):
                front = [q for q in front if not dominates(p, q)] + [p]
                current = hypervolume(front, reference) / box
        history.append(current)
    return history
