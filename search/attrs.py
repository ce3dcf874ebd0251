"""Names of the study and trial attributes scalesearch stores. Every one starts with ``ss.``.

Trial metrics are stored one user attr each (``ss.accuracy``, ``ss.params``, ...) so
optuna-dashboard shows them as columns; :func:`trial_metrics` reads them back.
"""

from __future__ import annotations

from typing import Any

PREFIX = "ss."
SPEC = "ss.spec"  # study: the resolved spec, plain data
VERSIONS = "ss.versions"  # study: package versions that created it
CONFIG = "ss.config"  # trial: the sampled configuration (family, model, training, seed)
FAIL_REASON = "ss.fail_reason"
PRUNE_REASON = "ss.prune_reason"
RUNG_PREFIX = "ss.rung."  # trial: validation accuracy at each early-stopping rung, e.g. ss.rung.9
RUNG_REACHED = "ss.rung_reached"  # pruned trial: epochs trained when it was stopped

#: Non-scalar or descriptive trial attrs that are not metrics.
NOT_METRICS = {CONFIG, FAIL_REASON, PRUNE_REASON, RUNG_REACHED, "ss.val_curve", "ss.device", "ss.worker"}


def metric_key(name: str) -> str:
    return PREFIX + name


def rung_key(epochs: int) -> str:
    return f"{RUNG_PREFIX}{epochs}"


def trial_metrics(user_attrs: dict[str, Any]) -> dict[str, Any]:
    """``{"accuracy": 0.97, "params": 21074, ...}`` from a trial's user attrs."""
    return {
        key[len(PREFIX):]: value
        for key, value in user_attrs.items()
        if key.startswith(PREFIX) and key not in NOT_METRICS and not key.startswith(RUNG_PREFIX)
        and isinstance(value, int | float)
    }
