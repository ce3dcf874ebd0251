"""Choose one Pareto-optimal trial and write everything needed to rebuild and retrain it.

Selection rules (``--pick``), chosen by name from ``PICKS``:

- ``knee`` (default): the compromise point. Among the Pareto-optimal trials (after ``--where``
  filters), each objective is scaled to [0, 1] over that front (0 = best; cost objectives on a
  log scale, since they span orders of magnitude), and the trial closest (Euclidean) to the ideal
  point — best on every objective at once — wins. Ties go to the earlier trial.
- ``max:<metric>`` / ``min:<metric>``: the Pareto-optimal trial with the highest / lowest metric
  (any measured metric, e.g. ``max:accuracy``, ``min:latency_ms``).

``--where 'latency_ms<=2'`` filters (several allowed, all must hold) apply to every complete,
feasible trial first; the Pareto front is then taken among the trials that pass.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from scalesearch.errors import ExportError, SpecError
from scalesearch.search.config import attrs
from scalesearch.search.config.metrics import METRICS, Condition, parse_condition
from scalesearch.search.config.spec import StudySpec, spec_to_data
from scalesearch.search.results.pareto import normalized
from scalesearch.search.results.report import complete_trials, pareto_trials
from scalesearch.search.storage.storage import redact

EXPORT_FORMAT = 1


def _knee(front: list[Any], spec: StudySpec) -> Any:
    scaled = [[math.log10(max(v, 1e-12)) if d == "minimize" else v
               for v, d in zip(t.values, spec.directions, strict=True)] for t in front]
    norm = normalized(scaled, spec.directions)
    return min(zip(front, norm, strict=True), key=lambda tn: (math.hypot(*tn[1]), tn[0].number))[0]


def _by_metric(metric: str, sign: int) -> Callable[[list[Any], StudySpec], Any]:
    def pick(front: list[Any], spec: StudySpec) -> Any:
        having = [t for t in front if metric in attrs.trial_metrics(t.user_attrs)]
        if not having:
            raise ExportError(f"--pick: no Pareto-optimal trial has the metric {metric!r}")
        return max(having, key=lambda t: (sign * attrs.trial_metrics(t.user_attrs)[metric], -t.number))

    return pick


PICKS: dict[str, Callable[[str], Callable[[list[Any], StudySpec], Any]]] = {
    "knee": lambda _: _knee,
    "max": lambda metric: _by_metric(metric, +1),
    "min": lambda metric: _by_metric(metric, -1),
}


def parse_pick(pick: str) -> Callable[[list[Any], StudySpec], Any]:
    rule, _, metric = pick.partition(":")
    if rule not in PICKS or (rule == "knee") == bool(metric):
        raise SpecError(f"--pick {pick!r}: use knee, max:<metric> or min:<metric> (e.g. max:accuracy)")
    return PICKS[rule](metric)


def select_trial(study: Any, spec: StudySpec, pick: str = "knee", where: Sequence[str] = ()) -> Any:
    """The trial chosen by ``pick`` among Pareto-optimal trials passing every ``where``."""
    rule = parse_pick(pick)
    known = tuple(METRICS) + ("flops", "size_bytes", "latency_ms_batch", "train_seconds", "epochs_run")
    conditions: list[Condition] = [parse_condition(w, f"--where {w!r}", known) for w in where]
    trials = complete_trials(study)
    if not trials:
        raise ExportError(f"study {study.study_name!r} has no complete trial yet; run it first (scalesearch run)")
    passing = [t for t in trials if all(c.holds(attrs.trial_metrics(t.user_attrs)) for c in conditions)]
    front = pareto_trials(passing, spec)
    if not front:
        shown = " and ".join(map(str, conditions)) or "the study's constraints"
        raise ExportError(f"no complete trial satisfies {shown}; relax the filter (see: scalesearch studies)")
    return rule(front, spec)


def export_data(study: Any, spec: StudySpec, trial: Any, *, storage_url: str, pick: str = "knee",
                where: Sequence[str] = ()) -> dict[str, Any]:
    """Everything to rebuild and retrain ``trial``, its measured metrics, and provenance."""
    from scalesearch.search.study.study import versions

    config = trial.user_attrs[attrs.CONFIG]
    spec_data = spec_to_data(spec)
    dataset = dict(spec_data["dataset"])
    dataset["input_size"] = dataset.get("input_size") or trial.user_attrs.get(attrs.INPUT_SIZE)
    return {
        "format": EXPORT_FORMAT,
        "family": config["family"],
        "model": config["model"],
        "training": config["training"],
        **({"compression": config["compression"], "deploy": spec_data["deploy"]} if "compression" in config else {}),
        "seed": config["seed"],
        "trainer": spec_data["training"],
        "dataset": dataset,
        **({"split": study.user_attrs[attrs.SPLIT]} if attrs.SPLIT in study.user_attrs else {}),
        "objectives": list(spec.objectives),
        "metrics": attrs.trial_metrics(trial.user_attrs),
        "provenance": {
            "study": study.study_name,
            "trial": trial.number,
            "storage": redact(storage_url),
            "pick": pick,
            "where": list(where),
            "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "versions": versions(),
        },
    }


def write_yaml(data: dict[str, Any], path: str | Path) -> Path:
    """Write ``data`` as YAML; one-line :class:`ExportError` when the path is not writable."""
    path = Path(path)
    try:
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}; pick a writable path with -o") from None
    return path
