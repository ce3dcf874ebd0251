"""Tables over a study: its Pareto front, and the studies a storage holds."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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


def feasible(trial: Any, spec: StudySpec, doubts: Mapping[int, str] | None = None) -> bool:
    """Complete, every spec constraint holds on its measured metrics (exact, not as shown), and
    none of the metrics the study uses was flagged untrusted (``config.feasibility.untrusted``);
    with ``doubts`` (:func:`doubted` over the study), not one of those either."""
    from scalesearch.search.config.feasibility import untrusted

    metrics = exact_metrics(trial)
    used = (*spec.objectives, *(c.metric for c in spec.conditions))
    return (all(c.holds(metrics) for c in spec.conditions) and untrusted(metrics, used) is None
            and trial.number not in (doubts or {}))


#: Metrics whose values the retroactive latency check (:func:`doubted`) vouches for.
LATENCY = ("latency_ms", "latency_ms_batch")


def uses_latency(spec: StudySpec) -> bool:
    """Whether the study's objectives or constraints read a latency (only then is one doubted)."""
    return bool({*spec.objectives, *(c.metric for c in spec.conditions)} & set(LATENCY))


def left_off_line(number: int, reason: str) -> str:
    """``trial 7 left off the front: <reason>``: how a doubted trial is named everywhere."""
    return f"trial {number} left off the front: {reason}"


def doubted(trials: Sequence[Any], spec: StudySpec) -> dict[int, str]:
    """Trial number -> why the front leaves it out although its constraints may hold, among
    complete ``trials`` (pass them all: the check compares them with each other). A measurement
    flagged when it was taken (``latency_suspect``: re-measured, still off), or, in a study whose
    objectives or constraints use latency, a stored latency that is an outlier against the other
    trials now (``measure.stored_outliers``): a study's first trials had nothing to be compared
    with when measured. Studies that do not use latency: always ``{}``."""
    from scalesearch.search.compression.measure import stored_outliers
    from scalesearch.search.config.feasibility import untrusted

    if not uses_latency(spec):
        return {}
    used = (*spec.objectives, *(c.metric for c in spec.conditions))
    measured = {t.number: exact_metrics(t) for t in trials}
    found = {n: f"{reason}; re-measured, still off" for n, m in measured.items()
             if (reason := untrusted(m, used)) is not None}
    later = stored_outliers({n: m for n, m in measured.items() if n not in found})
    return found | {n: f"{reason}; found against the later trials" for n, reason in later.items()}


def left_off_lines(trials: Sequence[Any], spec: StudySpec, doubts: Mapping[int, str] | None = None) -> list[str]:
    """One line per trial that would be on the front but for a doubted measurement
    (:func:`doubted`), e.g. ``trial 7 left off the front: latency 48 ms is 40x what its 1.6e+03
    FLOPs predict from 9 other trials (1.2 ms); re-measured, still off``."""
    doubts = doubted(trials, spec) if doubts is None else doubts
    if not doubts:
        return []
    metrics = {t.number: exact_metrics(t) for t in trials}
    held = [t for t in trials if t.values is not None and all(c.holds(metrics[t.number]) for c in spec.conditions)]
    without = [held[i] for i in pareto_indices([t.values for t in held], spec.directions)]
    return [left_off_line(t.number, doubts[t.number]) for t in sorted(without, key=lambda t: t.number)
            if t.number in doubts]


def study_left_off(study: Any, spec: StudySpec) -> list[str]:
    """:func:`left_off_lines` over ``study``'s complete trials (what ``export`` prints)."""
    return left_off_lines([t for t in complete_trials(study) if t.values is not None], spec)


def complete_trials(study: Any) -> list[Any]:
    import optuna

    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def pareto_trials(trials: Sequence[Any], spec: StudySpec, doubts: Mapping[int, str] | None = None) -> list[Any]:
    """The feasible Pareto-optimal trials among ``trials`` on the spec's objectives, leaving out
    ``doubts`` (default: :func:`doubted` over ``trials``; ``{}`` where the caller already left
    them out of a subset)."""
    doubts = doubted(trials, spec) if doubts is None else doubts
    candidates = [t for t in trials if t.values is not None and feasible(t, spec, doubts)]
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
