"""The spec's constraints stored on each trial, the route Optuna 5's samplers read.

``trial.set_constraint(name, violation)`` (Optuna >= 5) replaces the samplers' deprecated
``constraints_func``; a value > 0 means infeasible. One constraint per spec condition, named as
written (``"params <= 200000"``), so optuna-dashboard shows which one a trial broke. A trial
without the metric (e.g. stopped before measuring it) counts as infeasible (1.0), as
``objective.constraints_func`` does for Optuna 4, which has no ``set_constraint``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scalesearch.search.config import system_attrs
from scalesearch.search.config.metrics import Condition


def violations(conditions: Sequence[Condition], metrics: dict[str, Any]) -> dict[str, float]:
    """``{condition as written: violation}`` for a trial's metrics (exact: ``exact_metrics``)."""
    return {str(c): float(c.violation(metrics)) if c.metric in metrics else 1.0 for c in conditions}


def store_constraints(trial: Any, conditions: Sequence[Condition]) -> None:
    """Set each condition's violation on ``trial`` (no-op on an Optuna without ``set_constraint``)."""
    if not conditions or not hasattr(trial, "set_constraint"):
        return
    for name, value in violations(conditions, system_attrs.exact_metrics(trial)).items():
        trial.set_constraint(name, value)
