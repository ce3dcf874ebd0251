"""A study read once into plain records for figures and reports: one :class:`TrialPoint` per
finished trial (complete, or stopped early at a rung), in the order the trials finished.

Works on any storage and on a running study (running, waiting and failed trials are counted,
not drawn). An early-stopped trial's point is its accuracy at its last rung (``ss.rung.<epochs>``,
else the last value of its curve) with the costs measured before training (params, FLOPs, size);
a metric it never measured (e.g. latency) is absent from its point.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scalesearch.errors import StorageError
from scalesearch.search.config import attrs, system_attrs
from scalesearch.search.config.metrics import METRICS
from scalesearch.search.config.spec import StudySpec, spec_from_data
from scalesearch.search.results.figure_style import UNCOMPRESSED
from scalesearch.search.results.pareto import pareto_indices
from scalesearch.search.results.report import describe_compression, doubted


@dataclass(frozen=True)
class TrialPoint:
    number: int
    state: str  # "COMPLETE" or "PRUNED" (stopped early)
    family: str
    width: float | None
    depth: float | None
    compression: str  # "uncompressed" or e.g. "prune 0.3 + int8_static" (results/report.py)
    kind: str  # "uncompressed", "pruned", "sparse", "int8_static", "pruned + int8_static", ...
    metrics: Mapping[str, float]  # measured metrics (for a stopped trial: accuracy at its rung)
    curve: tuple[float, ...]  # validation accuracy after each epoch
    epochs_run: int
    params: Mapping[str, Any]  # the sampled Optuna params (for knob importance)
    feasible: bool  # complete, measured, every spec constraint holds, no doubted measurement (report.doubted)
    finished: dt.datetime | None
    reason: str = ""  # why it stopped early

    @property
    def stopped(self) -> bool:
        return self.state == "PRUNED"

    def label(self) -> str:
        """``trial 12 · resnet w0.14 d0.5 · prune 0.3``: the trial named in one line."""
        shape = " ".join(f"{k}{v:.3g}" for k, v in (("w", self.width), ("d", self.depth)) if v is not None)
        parts = [f"trial {self.number}", f"{self.family} {shape}".strip()]
        return " · ".join(parts + ([self.compression] if self.compression != UNCOMPRESSED else []))


@dataclass(frozen=True)
class StudyView:
    name: str
    spec: StudySpec
    objectives: tuple[str, ...]
    directions: tuple[str, ...]
    points: tuple[TrialPoint, ...]  # finished trials, in finishing order
    counts: Mapping[str, int] = field(default_factory=dict)  # trials by state name, all states
    rungs: tuple[int, ...] = ()  # epochs at which early stopping compared trials (stored rung values)
    knee: int | None = None  # the trial ``export --pick knee`` chooses on the stored scores
    floor: float | None = None  # accuracy below which a trial is no useful model (search/results/useful.py)
    started_from: str = ""  # "warm-started from ..." (search/study/warm_start.py), "" for a cold start

    @property
    def families(self) -> list[str]:
        """The spec's families first (stable colours), then any other found in the trials."""
        listed = list(self.spec.space.families)
        return listed + sorted({p.family for p in self.points} - set(listed))

    @property
    def complete(self) -> list[TrialPoint]:
        return [p for p in self.points if not p.stopped]

    @property
    def stopped(self) -> list[TrialPoint]:
        return [p for p in self.points if p.stopped]

    def values(self, point: TrialPoint) -> list[float] | None:
        """The point's objective values, or None when it lacks one."""
        if any(o not in point.metrics for o in self.objectives):
            return None
        return [float(point.metrics[o]) for o in self.objectives]

    def useful(self, point: TrialPoint) -> bool:
        """Whether ``point`` is a useful model (its accuracy at or above :attr:`floor`)."""
        accuracy = point.metrics.get("accuracy")
        return self.floor is None or accuracy is None or accuracy >= self.floor

    @property
    def set_aside(self) -> list[TrialPoint]:
        """Complete trials below the floor: left out of the front, the knee and the axis ranges."""
        return [p for p in self.complete if not self.useful(p)]

    def front(self) -> list[TrialPoint]:
        """The Pareto-optimal complete, feasible, useful trials (the headline front), fewest params first."""
        candidates = [p for p in self.complete if p.feasible and self.values(p) is not None and self.useful(p)]
        chosen = [candidates[i] for i in pareto_indices([self.values(p) for p in candidates], self.directions)]
        return sorted(chosen, key=lambda p: (p.metrics.get("params", math.inf), p.number))



def spec_of(study: Any) -> StudySpec:
    """The spec stored with ``study`` (:class:`StorageError` when it was not made by scalesearch)."""
    data = stored_spec_data(study)
    if data is None:
        raise StorageError(f"study {study.study_name!r} was not created by scalesearch (it has no stored spec)")
    return spec_from_data(data)


def stored_spec_data(study: Any) -> dict[str, Any] | None:
    """The spec stored with ``study`` as plain data: a system attr (kept off the dashboard's study
    page), or the user attr older studies and hand-made ones carry."""
    try:
        return system_attrs.study_data(study, attrs.SPEC)
    except TypeError:  # an optuna.Study not opened by scalesearch: its storage is private
        return study.user_attrs.get(attrs.SPEC)


def compression_kind(compression: Mapping[str, Any] | None) -> str:
    """The marker group of a compression config: ``uncompressed``, ``pruned``, ``int8_static``, ..."""
    if not compression:
        return UNCOMPRESSED
    parts = [name for name, on in (("pruned", compression.get("pruning_ratio")),
                                   ("sparse", compression.get("sparsity"))) if on]
    if compression.get("quantization", "none") != "none":
        parts.append(str(compression["quantization"]))
    return " + ".join(parts) or UNCOMPRESSED


def _point(trial: Any, spec: StudySpec, doubts: Mapping[int, str]) -> TrialPoint | None:
    user = trial.user_attrs
    config = system_attrs.trial_config(trial)
    model = config.get("model", {})
    metrics = {k: float(v) for k, v in system_attrs.exact_metrics(trial).items()
               if isinstance(v, int | float) and math.isfinite(v)}
    curve = tuple(system_attrs.val_curve(trial))
    stopped = trial.state.name == "PRUNED"
    if stopped:
        rung = user.get(attrs.RUNG_REACHED)
        at_rung = user.get(attrs.rung_key(rung)) if rung is not None else None
        accuracy = at_rung if at_rung is not None else (curve[-1] if curve else None)
        if accuracy is None:  # stopped before training: nothing to draw
            return None
        metrics["accuracy"] = float(accuracy)
    elif not metrics:
        return None
    feasible = not stopped and all(c.holds(metrics) for c in spec.conditions) and trial.number not in doubts
    return TrialPoint(
        number=trial.number, state=trial.state.name, family=str(config.get("family", "?")),
        width=model.get("width_multiplier"), depth=model.get("depth_multiplier"),
        compression=describe_compression(config.get("compression")),
        kind=compression_kind(config.get("compression")), metrics=metrics, curve=curve,
        epochs_run=int(metrics.get("epochs_run", len(curve))), params=dict(trial.params),
        feasible=feasible, finished=trial.datetime_complete,
        reason=str(user.get(attrs.PRUNE_REASON, "")),
    )


def read_study(study: Any, spec: StudySpec | None = None, trials: Sequence[Any] | None = None) -> StudyView:
    """``study`` (any storage, running or finished) as a :class:`StudyView`."""
    spec = spec or spec_of(study)
    trials = study.get_trials(deepcopy=False) if trials is None else trials
    counts: dict[str, int] = {}
    points, rung_keys = [], set()
    complete = [t for t in trials if t.state.name == "COMPLETE" and t.values is not None]
    doubts = doubted(complete, spec)
    for trial in trials:
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
        if trial.state.name in ("COMPLETE", "PRUNED"):
            point = _point(trial, spec, doubts)
            if point is not None:
                points.append(point)
            rung_keys.update(k for k in trial.user_attrs if k.startswith(attrs.RUNG_PREFIX))
    points.sort(key=lambda p: (p.finished or dt.datetime.max, p.number))
    objectives = tuple(spec.objectives)
    rungs = tuple(sorted({int(k[len(attrs.RUNG_PREFIX):]) for k in rung_keys}))
    from scalesearch.search.results.useful import usefulness
    from scalesearch.search.study.warm_start import started_from

    return StudyView(study.study_name, spec, objectives, tuple(METRICS[o][0] for o in objectives),
                     tuple(points), counts, rungs, knee_of(complete, spec, doubts), usefulness(complete, spec).floor,
                     started_from(study))


def knee_of(complete: Sequence[Any], spec: StudySpec, doubts: Mapping[int, str] | None = None) -> int | None:
    """The trial ``--pick knee`` chooses among the feasible front of useful trials (on the stored
    scores, as export does before re-evaluating), or None; ``doubts``: :func:`.report.doubted`
    over ``complete`` when the caller has it already."""
    from scalesearch.search.results.export import parse_pick
    from scalesearch.search.results.useful import useful_front

    front = useful_front(list(complete), spec, doubts=doubts)
    return parse_pick("knee")(front, spec)[0].number if front else None
