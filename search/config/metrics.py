"""The metrics a trial measures, their directions, and constraints over them."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from scalesearch.errors import SpecError, UnknownNameError

#: Metric name -> (Optuna direction, unit shown in tables). One source of truth.
METRICS: dict[str, tuple[str, str]] = {
    "accuracy": ("maximize", ""),
    "params": ("minimize", ""),
    "flops": ("minimize", ""),
    "latency_ms": ("minimize", "ms"),
    "size_mb": ("minimize", "MB"),
    "nonzero_params": ("minimize", ""),  # differs from params only with sparsity
    "robust_accuracy": ("maximize", ""),  # mean accuracy under noise, blur and shift
    "accuracy_std": ("minimize", ""),  # spread of accuracy over K trainings with other seeds
}

#: Metrics that cost extra work: measured only when an objective or in ``measure.extra_metrics``.
OPTIONAL_METRICS = ("robust_accuracy", "accuracy_std")

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt, "==": operator.eq,
}
_PATTERN = re.compile(r"^\s*([A-Za-z_][\w]*)\s*(<=|>=|==|<|>)\s*([-+0-9.eE_]+)\s*$")


def direction(metric: str) -> str:
    """``"maximize"`` or ``"minimize"`` for a known objective metric."""
    try:
        return METRICS[metric][0]
    except KeyError:
        raise UnknownNameError(f"unknown objective {metric!r}; choose from {', '.join(METRICS)}") from None


@dataclass(frozen=True)
class Condition:
    """``metric op bound``, e.g. ``params <= 200000``; used by constraints and export filters."""

    metric: str
    op: str
    bound: float

    def holds(self, metrics: Mapping[str, float]) -> bool:
        value = metrics.get(self.metric)
        return value is not None and _OPS[self.op](value, self.bound)

    def violation(self, metrics: Mapping[str, float]) -> float:
        """Optuna's constraint value: <= 0 when the condition holds, growing with the excess."""
        value = metrics[self.metric]
        if self.op in ("<=", "<"):
            excess = value - self.bound
            return excess if self.op == "<=" or excess != 0 else 1e-12
        if self.op in (">=", ">"):
            excess = self.bound - value
            return excess if self.op == ">=" or excess != 0 else 1e-12
        return abs(value - self.bound)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


def parse_condition(text: str, where: str, known: tuple[str, ...] = tuple(METRICS)) -> Condition:
    """``"params <= 2e5"`` -> ``Condition``; one-line error naming ``where`` otherwise."""
    match = _PATTERN.match(str(text))
    if not match:
        raise SpecError(f"{where}: cannot read {text!r}; write it as 'metric <= number', e.g. 'params <= 200000'")
    metric, op, number = match.groups()
    if metric not in known:
        raise UnknownNameError(f"{where}: unknown metric {metric!r} in {text!r}; known: {', '.join(known)}")
    try:
        bound = float(number.replace("_", ""))
    except ValueError:
        raise SpecError(f"{where}: {number!r} is not a number in {text!r}") from None
    return Condition(metric, op, bound)
