"""Tables over a study: its Pareto front, and the studies a storage holds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from scalesearch.search.config import attrs
from scalesearch.search.config.spec import StudySpec
from scalesearch.search.config.system_attrs import exact_metrics, study_data, trial_config
from scalesearch.search.results.figure_style import UNCOMPRESSED
from scalesearch.search.results.pareto import pareto_indices
from scalesearch.search.storage.storage import stored_study

#: Optuna's trial states in scalesearch's words (PRUNED is early stopping, never compression).
STATE_WORDS = {"COMPLETE": "complete", "PRUNED": "stopped early", "FAIL": "failed", "RUNNING": "running",
               "WAITING": "waiting"}


def feasible(trial: Any, spec: StudySpec) -> bool:
    """Complete, every spec constraint holds on its measured metrics (exact, not as shown), and
    none of the metrics the study uses was flagged untrusted (``config.feasibility.untrusted``)."""
    from scalesearch.search.config.feasibility import untrusted

    metrics = exact_metrics(trial)
    used = (*spec.objectives, *(c.metric for c in spec.conditions))
    return all(c.holds(metrics) for c in spec.conditions) and untrusted(metrics, used) is None


def complete_trials(study: Any) -> list[Any]:
    import optuna

    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def pareto_trials(trials: Sequence[Any], spec: StudySpec) -> list[Any]:
    """The feasible Pareto-optimal trials among ``trials`` on the spec's objectives."""
    candidates = [t for t in trials if t.values is not None and feasible(t, spec)]
    front = [candidates[i] for i in pareto_indices([t.values for t in candidates], spec.directions)]
    return sorted(front, key=lambda t: (attrs.trial_metrics(t.user_attrs).get("params", math.inf), t.number))


def trial_row(trial: Any) -> dict[str, Any]:
    """The columns shown for a trial in tables and exports."""
    config = trial_config(trial)
    metrics = attrs.trial_metrics(trial.user_attrs)
    model = config.get("model", {})
    return {
        "trial": trial.number,
        "family": config.get("family", "?"),
        "width": model.get("width_multiplier"),
        "depth": model.get("depth_multiplier"),
        "accuracy": metrics.get("accuracy"),
        "params": metrics.get("params"),
        "flops": metrics.get("flops"),
        "latency_ms": metrics.get("latency_ms"),
        "size_mb": metrics.get("size_mb"),
        "compression": describe_compression(config.get("compression")),
    }


def describe_compression(compression: dict[str, Any] | None) -> str:
    """``"prune 0.5 + int8_static"``, or ``"uncompressed"`` for a model deployed as trained (the
    word the figures, notes, report and CLI all use)."""
    if not compression:
        return UNCOMPRESSED
    parts = []
    if compression.get("pruning_ratio"):
        parts.append(f"prune {compression['pruning_ratio']:.2g}")
    if compression.get("sparsity"):
        parts.append(f"sparse {compression['sparsity']:.2g}")
    if compression.get("quantization", "none") != "none":
        parts.append(compression["quantization"])
    return " + ".join(parts) or UNCOMPRESSED


def study_rows(storage: Any) -> list[dict[str, Any]]:
    """One row per study: name, directions, objective names, trial counts by state."""
    import optuna

    rows = []
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        study = stored_study(summary.study_name, storage)
        counts: dict[str, int] = {}
        for t in study.get_trials(deepcopy=False):
            counts[t.state.name] = counts.get(t.state.name, 0) + 1
        spec = study_data(study, attrs.SPEC) or {}
        rows.append({
            "study": summary.study_name,
            "objectives": ", ".join(f"{n} ({d.name.lower()[:3]})" for n, d in
                                    zip(study.metric_names or ["value"] * len(study.directions), study.directions, strict=False)),
            "budget": spec.get("budget", {}).get("n_trials"),
            **{shown: counts.get(state, 0) for state, shown in STATE_WORDS.items() if state != "WAITING"},
            "started": summary.datetime_start.strftime("%Y-%m-%d %H:%M") if summary.datetime_start else "",
        })
    return rows


def fmt(value: Any, key: str = "") -> str:
    """Human formatting: 21.1K params, 0.975 accuracy, 0.25 ms."""
    if value is None:
        return "-"
    if key in ("params", "flops") and isinstance(value, int | float):
        for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
            if value >= scale:
                return f"{value / scale:.3g}{unit}"
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.4f}" if key == "accuracy" else f"{value:.3g}"
    return str(value)
