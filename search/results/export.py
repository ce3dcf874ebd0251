"""Choose one Pareto-optimal trial and write everything needed to rebuild and retrain it.

Selection rules (``--pick``), chosen by name from ``PICKS``:

- ``knee`` (default): the compromise point. Among the Pareto-optimal useful trials (after
  ``--where`` filters; :mod:`.useful` sets aside tiny, barely-learned ones), each objective is
  scaled to [0, 1] over that front (0 = best; cost objectives on a log scale, since they span
  orders of magnitude, unless one is zero), and the trial closest (Euclidean) to the ideal
  point — best on every objective at once — wins. Ties go to the earlier trial.
  ``knee:<definition>`` names one of :data:`KNEES` (``ideal``, the default; ``chord``;
  ``marginal``), compared in ``benchmarks/pick_evidence.py``. Whatever the definition, the knee
  then steps up the front while a larger trial under 3x its cost offers more than 1.5 points of
  accuracy (:func:`step_up`).
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

from scalesearch.errors import ExportError, SpecError, option
from scalesearch.search.config import attrs
from scalesearch.search.config.metrics import METRICS, Condition, parse_condition
from scalesearch.search.config.spec import StudySpec, spec_to_data
from scalesearch.search.config.system_attrs import exact_metrics, trial_config
from scalesearch.search.results.pareto import normalized
from scalesearch.search.results.report import complete_trials, doubted, feasible
from scalesearch.search.storage.storage import redact

EXPORT_FORMAT = 1


def _scaled(front: list[Any], spec: StudySpec) -> list[list[float]]:
    """Each trial's objectives scaled to [0, 1] over ``front`` (0 = best; costs on a log scale)."""
    columns = [knee_scale(c, d) for c, d in zip(zip(*(t.values for t in front), strict=True), spec.directions,
                                                  strict=True)]
    return normalized([list(row) for row in zip(*columns, strict=True)], spec.directions)


def knee_ideal(front: list[Any], spec: StudySpec) -> list[float]:
    """Distance to the ideal point (best on every objective at once) on the scaled front."""
    return [math.hypot(*p) for p in _scaled(front, spec)]


def knee_chord(front: list[Any], spec: StudySpec) -> list[float]:
    """Kneedle's: how far below the chord between the front's ends a point lies, negated (smaller
    is better). On the scaled front the ends sit at (0, 1) and (1, 0) and the distance is
    ``(1 - x - y) / sqrt(2)``; with more objectives, below the plane ``sum x_i = 1``."""
    return [(sum(p) - 1) / math.sqrt(len(p)) for p in _scaled(front, spec)]


def knee_marginal(front: list[Any], spec: StudySpec) -> list[float]:
    """The point above the largest accuracy lost per decade of cost saved: along the front by
    its one cost, each point's score is minus the accuracy lost (scaled) per scaled log-cost
    saved by stepping to the next cheaper point; the cheapest point scores 0. Accuracy and
    exactly one cost are needed; other studies fall back to :func:`knee_ideal`."""
    if len(spec.objectives) != 2 or "accuracy" not in spec.objectives:
        return knee_ideal(front, spec)
    a = spec.objectives.index("accuracy")
    scaled = _scaled(front, spec)
    order = sorted(range(len(front)), key=lambda i: (scaled[i][1 - a], scaled[i][a]), reverse=True)
    score = [0.0] * len(front)
    for cheaper, here in zip(order, order[1:], strict=False):
        saved = scaled[cheaper][1 - a] - scaled[here][1 - a]
        lost = scaled[cheaper][a] - scaled[here][a]
        score[here] = -lost / saved if saved > 0 else 0.0
    return score


#: Knee definitions (``--pick knee:<name>``): each scores a front's trials, lowest wins.
KNEES: dict[str, Callable[[list[Any], StudySpec], list[float]]] = {
    "ideal": knee_ideal, "chord": knee_chord, "marginal": knee_marginal,
}
DEFAULT_KNEE = "ideal"


#: A knee never gives up more than GIVE_UP of accuracy to be less than CHEAPER times smaller.
GIVE_UP, CHEAPER = 0.015, 3.0


def step_up(ranked: list[Any], spec: StudySpec) -> list[Any]:
    """``ranked`` with its first trial replaced while a larger trial within :data:`CHEAPER` times
    its cost offers more than :data:`GIVE_UP` accuracy (a pick a person would not make): each
    step goes to the cheapest such trial, so the pick ends where no trial under 3x its cost is
    more than 1.5 points better (not only its next neighbour: a neighbour 1 point up can hide one
    3 points up at 2.5x). Studies of accuracy and one positive, minimised cost only; others are
    returned as they are."""
    if len(spec.objectives) != 2 or "accuracy" not in spec.objectives or not ranked:
        return ranked
    a = spec.objectives.index("accuracy")
    c = 1 - a
    if spec.directions[c] != "minimize":
        return ranked
    pick = ranked[0]
    while pick.values[c] > 0:
        better = [t for t in ranked if pick.values[c] < t.values[c] < CHEAPER * pick.values[c]
                  and t.values[a] - pick.values[a] > GIVE_UP]
        if not better:
            break
        pick = min(better, key=lambda t: (t.values[c], t.number))
    return [pick] + [t for t in ranked if t is not pick]


def _knee_by(name: str) -> Callable[[list[Any], StudySpec], list[Any]]:
    def rank(front: list[Any], spec: StudySpec) -> list[Any]:
        scores = KNEES[name](front, spec)
        return step_up([t for t, _ in sorted(zip(front, scores, strict=True), key=lambda ts: (ts[1], ts[0].number))],
                       spec)

    return rank


def knee_scale(values: Sequence[float], direction: str) -> list[float]:
    """One objective's values as the knee compares them: costs (minimised) on a log scale when
    every value is positive, since they span orders of magnitude; as they are otherwise (a zero,
    e.g. ``accuracy_std`` = 0, has no logarithm, and clamping it to 1e-12 squashed the others)."""
    if direction == "minimize" and all(v > 0 for v in values):
        return [math.log10(v) for v in values]
    return list(values)


def _by_metric(metric: str, sign: int) -> Callable[[list[Any], StudySpec], list[Any]]:
    def rank(front: list[Any], spec: StudySpec) -> list[Any]:
        having = [t for t in front if metric in exact_metrics(t)]
        if not having:
            raise ExportError(f"{'max' if sign > 0 else 'min'}:{metric}: no Pareto-optimal trial has the metric "
                              f"{metric!r}; pick by a metric the study measured")
        return sorted(having, key=lambda t: (-sign * exact_metrics(t)[metric], t.number))

    return rank


#: A pick rule ranks the front, best first (``select_trial`` takes the first).
PICKS: dict[str, Callable[[str], Callable[[list[Any], StudySpec], list[Any]]]] = {
    "knee": lambda name: _knee_by(name or DEFAULT_KNEE),
    "max": lambda metric: _by_metric(metric, +1),
    "min": lambda metric: _by_metric(metric, -1),
}


def parse_pick(pick: str, caller: str = "cli") -> Callable[[list[Any], StudySpec], list[Any]]:
    """The ranking ``pick`` names (:data:`PICKS`); a one-line SpecError, in the ``caller``'s words, otherwise."""
    rule, _, metric = pick.partition(":")
    if rule not in PICKS or (rule != "knee" and not metric) or (rule == "knee" and metric and metric not in KNEES):
        raise SpecError(f"{option(caller, '--pick', 'pick', pick)}: use knee, max:<metric> or min:<metric> (e.g. max:accuracy); "
                        f"knee:<definition> takes {', '.join(KNEES)}")
    return PICKS[rule](metric)


def candidate_front(study: Any, spec: StudySpec, where: Sequence[str] = ()) -> list[Any]:
    """The Pareto-optimal useful trials (:mod:`.useful`) among the complete, feasible ones
    passing every ``where``."""
    from scalesearch.search.results.useful import useful_front

    return useful_front(passing_trials(study, spec, where), spec, doubts={})  # left out there already


def numbered_trial(study: Any, number: int, caller: str = "cli") -> Any:
    """Trial ``number`` of ``study`` (``export --trial``); :class:`ExportError` unless it is COMPLETE."""
    import optuna

    trials = study.get_trials(deepcopy=False)
    if not 0 <= number < len(trials) or trials[number].state != optuna.trial.TrialState.COMPLETE:
        state = "does not exist" if not 0 <= number < len(trials) else f"is {trials[number].state.name}"
        raise ExportError(f"{option(caller, '--trial', 'trial', number)}: trial {number} of study {study.study_name!r} {state}; "
                          "export takes a COMPLETE trial (see the Pareto table in the study's note)")
    return trials[number]


def passing_trials(study: Any, spec: StudySpec, where: Sequence[str] = (), caller: str = "cli") -> list[Any]:
    """The complete, feasible trials passing every ``where`` (one-line errors when there are none)."""
    known = tuple(METRICS) + ("flops", "size_bytes", "latency_ms_batch", "train_seconds", "epochs_run")
    conditions: list[Condition] = [parse_condition(w, option(caller, "--where", "where", w), known) for w in where]
    trials = complete_trials(study)
    if not trials:
        raise ExportError(f"study {study.study_name!r} has no complete trial yet; run it first (scalesearch run)")
    doubts = doubted([t for t in trials if t.values is not None], spec)  # judged over the whole study
    passing = [t for t in trials if all(c.holds(exact_metrics(t)) for c in conditions)
               and t.values is not None and feasible(t, spec, doubts)]
    if not passing:
        shown = " and ".join(map(str, conditions)) or "the study's constraints"
        raise ExportError(f"no complete trial satisfies {shown}; relax the filter (see: scalesearch studies)")
    return passing


def select_trial(study: Any, spec: StudySpec, pick: str = "knee", where: Sequence[str] = ()) -> Any:
    """The trial chosen by ``pick`` among Pareto-optimal trials passing every ``where``, on their
    single stored scores (``--rule single``; :mod:`.selection` has the noise-aware rules)."""
    rank = parse_pick(pick)
    return rank(candidate_front(study, spec, where), spec)[0]


def export_data(study: Any, spec: StudySpec, trial: Any, *, storage_url: str, pick: str = "knee",
                where: Sequence[str] = (), uncertainty: dict[str, Any] | None = None,
                selection: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything to rebuild and retrain ``trial``, its measured metrics, its accuracy's
    ``uncertainty`` (:meth:`.uncertainty.Estimate.to_data`), and provenance (with ``selection``:
    the rule and re-evaluation budget that chose it)."""
    from scalesearch.search.datasets.recorded import split_record
    from scalesearch.search.datasets.spec import for_kind
    from scalesearch.search.study.study import versions

    config = trial_config(trial)
    split = split_record(study)
    spec_data = spec_to_data(spec)
    dataset = for_kind(spec_data["dataset"])  # no defaults of another dataset kind
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
        **({"split": split} if split is not None else {}),
        "objectives": list(spec.objectives),
        "metrics": exact_metrics(trial),
        **({"uncertainty": uncertainty} if uncertainty else {}),
        "provenance": {
            "study": study.study_name,
            "trial": trial.number,
            "storage": redact(storage_url),
            "pick": pick,
            "where": list(where),
            **(selection or {}),
            **({"warm_start": study.user_attrs[attrs.WARM_START]} if attrs.WARM_START in study.user_attrs else {}),
            **({"warm_start_config": trial.user_attrs[attrs.WARM_FROM]} if attrs.WARM_FROM in trial.user_attrs else {}),
            "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "versions": versions(),
        },
    }


#: How each caller chooses another file to write, for errors (``caller`` of :func:`check_writable`).
WRITABLE_ADVICE = {"cli": "pick a writable path with -o", "python": "pass a writable path= (in a folder that exists)"}


def check_writable(path: str | Path, force: bool = True, caller: str = "cli") -> None:
    """One-line :class:`ExportError` when ``path``'s folder is missing or not writable, or (unless
    ``force``) ``path`` already exists; its advice in the ``caller``'s words (``cli`` or ``python``)."""
    import os

    if not force and Path(path).exists():
        raise ExportError(f"{path} already exists; pick another file with -o, or pass --force to overwrite it")

    folder = Path(path).parent
    advice = WRITABLE_ADVICE.get(caller, WRITABLE_ADVICE["cli"])
    if not folder.is_dir():
        raise ExportError(f"cannot write {path}: No such file or directory; {advice}")
    if not os.access(folder, os.W_OK):
        raise ExportError(f"cannot write {path}: Permission denied; {advice}")


def write_yaml(data: dict[str, Any], path: str | Path, caller: str = "cli") -> Path:
    """Write ``data`` as YAML; one-line :class:`ExportError` when the path is not writable."""
    path = Path(path)
    try:
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}; "
                          f"{WRITABLE_ADVICE.get(caller, WRITABLE_ADVICE['cli'])}") from None
    return path
