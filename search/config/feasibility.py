"""Constraints that nothing can satisfy, found before a study starts.

Two checks that need no training: a constraint outside the values its metric can take
(``accuracy > 1``, ``params <= 0``), and constraints on one metric that contradict each other
(``params <= 1000`` with ``params >= 5000``). Bounds that depend on the space (the smallest model
it can build) are left to the trials: compression can shrink a model below any corner's size.
:func:`untrusted` says when a complete trial stays off the front for a flagged measurement.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scalesearch.errors import SpecError
from scalesearch.search.config.metrics import Condition


@dataclass(frozen=True)
class Interval:
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def empty(self) -> bool:
        return self.low > self.high or (self.low == self.high and (self.low_open or self.high_open))

    def __and__(self, other: Interval) -> Interval:
        if (other.low, other.low_open) > (self.low, self.low_open):  # larger, or as large but open
            low, low_open = other.low, other.low_open
        else:
            low, low_open = self.low, self.low_open
        if (other.high, not other.high_open) < (self.high, not self.high_open):  # smaller, or open
            high, high_open = other.high, other.high_open
        else:
            high, high_open = self.high, self.high_open
        return Interval(low, high, low_open, high_open)

    def __str__(self) -> str:
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


#: The values a metric can take (metrics not listed: any real number).
METRIC_RANGES: dict[str, Interval] = {
    "accuracy": Interval(0.0, 1.0),
    "params": Interval(1.0, math.inf),
    "flops": Interval(0.0, math.inf),
    "latency_ms": Interval(0.0, math.inf, low_open=True),
    "size_mb": Interval(0.0, math.inf, low_open=True),
}


def interval_of(condition: Condition) -> Interval:
    op, bound = condition.op, condition.bound
    return {
        "<=": Interval(high=bound), "<": Interval(high=bound, high_open=True),
        ">=": Interval(low=bound), ">": Interval(low=bound, low_open=True),
        "==": Interval(bound, bound),
    }[op]


def check_satisfiable(conditions: Sequence[Condition], where: str = "constraints") -> None:
    """Raise a one-line :class:`SpecError` when no value of some metric meets its constraints."""
    allowed: dict[str, Interval] = {}
    for condition in conditions:
        metric = condition.metric
        natural = METRIC_RANGES.get(metric, Interval())
        alone = natural & interval_of(condition)
        if alone.empty():
            raise SpecError(f"{where}: nothing can satisfy '{condition}': {metric} always lies in {natural}; "
                            "relax or remove it")
        before = allowed.get(metric, natural)
        allowed[metric] = before & alone
        if allowed[metric].empty():
            others = " and ".join(str(c) for c in conditions if c.metric == metric)
            raise SpecError(f"{where}: nothing can satisfy {others} at once; relax one of them")


#: Metric -> the flag that marks its measured value untrusted (``search/compression/measure.py``:
#: a latency still doubtful after it was measured again).
SUSPECT_FLAGS = {"latency_ms": "latency_suspect", "latency_ms_batch": "latency_suspect"}


def untrusted(metrics: Mapping[str, Any], used: Iterable[str]) -> str | None:
    """Why a trial is kept off the front although its constraints may hold: a metric in ``used``
    (the study's objectives and constrained metrics) whose measurement was flagged; else None."""
    for metric in used:
        reason = metrics.get(SUSPECT_FLAGS.get(metric, ""))
        if reason:
            return str(reason)
    return None
