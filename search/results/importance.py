"""Knob importance per objective, over the knobs that can move it, with its spread over re-fits.

Method (stated on the figure): for each knob, the share of an objective's variance over the
complete trials that the knob explains on its own -- a one-way ANOVA effect size,
epsilon² = (SS_between - (k - 1)·MS_within) / SS_total, clipped at 0 (so a knob that does nothing
scores about 0 whatever the number of trials). A categorical knob groups trials by its value,
a numeric one into up to :data:`BINS` equal-count bins (fewer when trials are few). Costs spanning
a decade are taken on log10. Main effects only: interactions are not counted, and knobs the
sampler correlates share credit. Tried: an additive model fitted by backfitting (so correlated
knobs do not share credit); on 11 trials and 8 knobs it overfitted (one knob at 100 %), not
adopted. Optuna's fANOVA was not used: on 1,000 trials it took 80 s here, against milliseconds.

Which knobs: a cost (params, FLOPs, size, latency) can only move with the architecture and the
compression, so training knobs (lr, weight_decay, label_smoothing, ...) and dropout rates are not
ranked for it;
accuracy is ranked over every knob. Spread: the model is refitted on :data:`RESAMPLES` bootstrap
resamples of the trials (seeded, so a figure is reproducible); the bars are the full-data value
and the whiskers the resamples' standard deviation.

Shares are not parts of a whole: each knob is scored alone, so two knobs that move together each
get the credit of both, and the shares of one objective need not add up to 100 %.

Groups: ``all trials`` ranks the family choice, the knobs every trial has, and the width and depth
multipliers read from each trial's config (stored per family, ``resnet.width_multiplier``, so
otherwise no knob of the group and the family choice would take their credit; as in
``figures_parallel.py``, a multiplier means the same scaling of a different base in each family);
each family then ranks its own knobs (``<family>.width_multiplier``, ...) with the shared ones,
over its own trials.
A group with fewer than :data:`MIN_TRIALS` trials is skipped; knobs that only part of a group
samples (e.g. ``pruning_allocation``, sampled only when a model is pruned) are not ranked.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from scalesearch.search.results.hypervolume import log_scaled
from scalesearch.search.results.study_view import StudyView, TrialPoint

BINS = 6
MIN_TRIALS = 8
RESAMPLES = 20
ALL = "all trials"
#: Objectives that only the architecture and the compression can move.
COSTS = frozenset({"params", "flops", "size_mb", "latency_ms", "nonzero_params"})
#: Model knobs that regularise training without changing the network's shape (dropout rates).
REGULARISERS = ("drop_rate", "drop_path_rate")


@dataclass(frozen=True)
class Importance:
    group: str  # ALL or a family
    objective: str
    knob: str  # as shown: family knobs without their "<family>." prefix
    value: float  # share of the objective's variance, 0..1
    trials: int
    spread: float = 0.0  # standard deviation over bootstrap re-fits


def knob_name(knob: str, family: str | None) -> str:
    return knob[len(family) + 1:] if family and knob.startswith(family + ".") else knob


def epsilon_squared(labels: Sequence[object], target: Sequence[float]) -> float:
    """Share of ``target``'s variance explained by grouping it by ``labels`` (bias-corrected)."""
    groups: dict[object, list[float]] = {}
    for label, y in zip(labels, target, strict=True):
        groups.setdefault(label, []).append(y)
    n, k = len(target), len(groups)
    if k < 2 or n <= k:
        return 0.0
    mean = sum(target) / n
    total = sum((y - mean) ** 2 for y in target)
    if total <= 0:
        return 0.0
    between = sum(len(ys) * (sum(ys) / len(ys) - mean) ** 2 for ys in groups.values())
    within = (total - between) / (n - k)
    return max(0.0, (between - (k - 1) * within) / total)


def bin_labels(values: Sequence[object], bins: int = BINS) -> list[object]:
    """Categories as they are; numbers with more than ``bins`` distinct values as
    equal-count bin indices."""
    distinct = set(values)
    if len(distinct) <= bins or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return [str(v) for v in values]
    ordered = sorted(values)  # type: ignore[type-var]
    edges = [ordered[(len(ordered) * i) // bins] for i in range(1, bins)]
    return [sum(v >= e for e in edges) for v in values]  # type: ignore[operator]


def movable(view: StudyView, objective: str, knobs: Sequence[str]) -> list[str]:
    """The knobs that can move ``objective``: a cost ignores the training knobs and dropout rates."""
    if objective not in COSTS:
        return list(knobs)
    training = set(view.spec.space.training)
    return [k for k in knobs if k not in training and k.rsplit(".", 1)[-1] not in REGULARISERS]


def _groups(view: StudyView, points: list[TrialPoint]) -> list[tuple[str, list[TrialPoint]]]:
    groups = [(ALL, points)] if len({p.family for p in points}) > 1 else []
    return groups + [(f, [p for p in points if p.family == f]) for f in view.families]


def knob_values(point: TrialPoint, family: str | None) -> dict[str, object]:
    """What a group ranks for ``point``: its sampled knobs, and in the all-trials group (``family``
    None) also its width and depth multipliers, which every family has under its own name."""
    if family is not None:
        return dict(point.params)
    shape = {"width_multiplier": point.width, "depth_multiplier": point.depth}
    return {**point.params, **{k: v for k, v in shape.items() if v is not None}}


def _score(rows: list[dict[str, object]], knobs: list[str], target: list[float], seed: int) -> list[tuple[float, float]]:
    """(full-data share, bootstrap std) per knob; numeric knobs in fewer bins when trials are few
    (at least 3 trials per bin)."""
    bins = max(2, min(BINS, len(rows) // 3))
    columns = [bin_labels([row[k] for row in rows], bins) for k in knobs]
    full = [epsilon_squared(col, target) for col in columns]
    rng = random.Random(seed)
    resampled: list[list[float]] = []
    for _ in range(RESAMPLES):
        rows = [rng.randrange(len(target)) for _ in target]
        resampled.append([epsilon_squared([col[r] for r in rows], [target[r] for r in rows]) for col in columns])
    return [(value, statistics.pstdev(run[i] for run in resampled)) for i, value in enumerate(full)]


def importances(view: StudyView) -> tuple[list[Importance], list[str]]:
    """Every (group, objective, knob) score, and one line per group that was skipped."""
    points = [p for p in view.complete if view.values(p) is not None]
    results: list[Importance] = []
    skipped: list[str] = []
    for group, members in _groups(view, points):
        if len(members) < MIN_TRIALS:
            if members or group == ALL:
                skipped.append(f"{group}: {len(members)} complete trial{'s' * (len(members) != 1)} (< {MIN_TRIALS})")
            continue
        family = None if group == ALL else group
        rows = [knob_values(p, family) for p in members]
        knobs = sorted(set.intersection(*(set(row) for row in rows)))
        knobs = [k for k in knobs if len({str(row[k]) for row in rows}) > 1 and (family is None or k != "family")]
        for i, objective in enumerate(view.objectives):
            target = [view.values(p)[i] for p in members]  # type: ignore[index]
            if log_scaled(target, view.directions[i]):
                target = [math.log10(y) for y in target]
            ranked = movable(view, objective, knobs)
            if not ranked:
                continue
            for knob, (value, spread) in zip(ranked, _score(rows, ranked, target, seed=i), strict=True):
                results.append(Importance(group, objective, knob_name(knob, family), value, len(members), spread))
    return results, skipped
