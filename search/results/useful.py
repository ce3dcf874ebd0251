"""Which trials are useful models: the one rule that keeps a tiny, barely-learned model from
steering the knee, the axis ranges and the headline front.

A search that minimises a cost finds, at the cheap end, models too small to learn the task: on
the default digits study a 2.7K-parameter ResNet at 0.22-0.29 validation accuracy is
Pareto-optimal only because nothing is smaller. Nobody deploys it, yet it stretches the
accuracy range every scaled comparison reads (the knee, a figure's axis).

The rule, on accuracy (the one quality metric every classification study measures)::

    floor  = chance + FRACTION * (best - chance)        FRACTION = 0.5
    useful = accuracy >= floor

``best`` is the highest accuracy among the trials considered (the whole study, or those passing
``export --where``), and ``chance = 1 / classes`` when the number of classes is known (given,
or the spec's ``dataset.class_names``), else 0: a useful model closes at least half the gap
between guessing and the best model found. Evidence, from the 26 stored fronts of this
project's benchmark runs (digits; default 24-trial studies and shorter 8-16-trial ones, one
3-objective): the default study's front holds one tiny ResNet at 0.22 (0.29 in the issue's run)
and nothing else below 0.95, against a floor of 0.55 (10 classes); in all, the points set aside
sit at 0.08-0.43 and the lowest points kept at 0.55-0.97 (short studies keep half-trained
models that did learn). 0.5 leaves room on both sides for harder tasks (CIFAR-100 at best
0.60: floor 0.305).

A study without an accuracy objective sets nothing aside (costs alone say nothing about
whether a model learned). Objectives other than accuracy (params, latency, size, in any
number) never set a trial aside; they only decide the front among the useful trials.

A trial set aside stays stored, listed in the study's tables and exportable with
``export --trial N``; it is left out of the knee, of the axis ranges and of the headline front.

API (what tables, figures, notes and export call):

- :func:`usefulness`: the rule's numbers for a set of trials (:class:`Usefulness`);
- :func:`split_useful`: ``(useful, set_aside)`` trials;
- :func:`useful_front`: the Pareto front among the useful trials (the headline front);
- :func:`axis_range`: a padded ``(low, high)`` for a metric's axis over the useful trials;
- :func:`set_aside_text`: one line naming the trials set aside and why ("" when none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scalesearch.search.config.spec import StudySpec
from scalesearch.search.config.system_attrs import exact_metrics
from scalesearch.search.results.report import doubted, pareto_trials

FRACTION = 0.5
METRIC = "accuracy"


@dataclass(frozen=True)
class Usefulness:
    """The rule's numbers: ``floor`` is None when nothing can be set aside (no accuracy objective,
    or no trial measured it)."""

    floor: float | None
    best: float | None
    chance: float

    def useful(self, accuracy: float | None) -> bool:
        return self.floor is None or accuracy is None or accuracy >= self.floor

    def reason(self) -> str:
        """Why a trial below the floor is set aside, in words."""
        chance = f"chance {self.chance:.3g}, " if self.chance else ""
        return (f"accuracy below {self.floor:.4f}, half way from chance to the best ({chance}best {self.best:.4f}): "
                "Pareto-optimal only for being tiny")


def chance_level(classes: int | None) -> float:
    """``1 / classes``, or 0 when the number of classes is unknown (a lower, safe floor)."""
    return 1.0 / classes if classes and classes >= 2 else 0.0


def classes_of(spec: StudySpec, data: Any = None) -> int | None:
    """The number of classes: ``data``'s when given, else the spec's ``dataset.class_names``."""
    if data is not None and getattr(data, "num_classes", None):
        return int(data.num_classes)
    names = spec.dataset.class_names
    return len(names) if names else None


def floor_of(accuracies: Sequence[float], classes: int | None = None) -> float | None:
    """The accuracy floor over plain values (None for no values)."""
    if not accuracies:
        return None
    chance = chance_level(classes)
    return chance + FRACTION * (max(accuracies) - chance)


def _accuracy(trial: Any) -> float | None:
    value = exact_metrics(trial).get(METRIC)
    return None if value is None else float(value)


def usefulness(trials: Sequence[Any], spec: StudySpec, *, classes: int | None = None) -> Usefulness:
    """The rule applied to ``trials`` (their best accuracy sets the floor)."""
    chance = chance_level(classes if classes is not None else classes_of(spec))
    if METRIC not in spec.objectives:
        return Usefulness(None, None, chance)
    measured = [a for a in map(_accuracy, trials) if a is not None]
    if not measured:
        return Usefulness(None, None, chance)
    best = max(measured)
    return Usefulness(chance + FRACTION * (best - chance), best, chance)


def useful_mask(trials: Sequence[Any], spec: StudySpec, *, classes: int | None = None) -> list[bool]:
    """Per trial of ``trials``, whether it is a useful model."""
    rule = usefulness(trials, spec, classes=classes)
    return [rule.useful(_accuracy(t)) for t in trials]


def split_useful(trials: Sequence[Any], spec: StudySpec, *, classes: int | None = None) -> tuple[list[Any], list[Any]]:
    """``(useful, set_aside)``, each in the order of ``trials``."""
    mask = useful_mask(trials, spec, classes=classes)
    return ([t for t, keep in zip(trials, mask, strict=True) if keep],
            [t for t, keep in zip(trials, mask, strict=True) if not keep])


def useful_front(trials: Sequence[Any], spec: StudySpec, *, classes: int | None = None,
                 doubts: Mapping[int, str] | None = None) -> list[Any]:
    """The feasible Pareto front among the useful trials of ``trials`` (sorted as
    :func:`.report.pareto_trials`): the headline front. A set-aside trial never dominates a
    useful one (it is less accurate), so this is the full front minus the trials set aside.
    Doubted measurements (:func:`.report.doubted`) are judged over all of ``trials`` unless
    ``doubts`` is given."""
    candidates = [t for t in trials if t.values is not None]
    doubts = doubted(candidates, spec) if doubts is None else doubts
    return pareto_trials(split_useful(candidates, spec, classes=classes)[0], spec, doubts)


def axis_range(trials: Sequence[Any], spec: StudySpec, metric: str, *, classes: int | None = None,
               pad: float = 0.05) -> tuple[float, float] | None:
    """``(low, high)`` for ``metric``'s axis over the useful trials of ``trials``, padded by
    ``pad`` of the span on each side (accuracy kept inside [0, 1]); None when none has it."""
    useful = split_useful(trials, spec, classes=classes)[0]
    values = [float(exact_metrics(t)[metric]) for t in useful if exact_metrics(t).get(metric) is not None]
    if not values:
        return None
    low, high = min(values), max(values)
    margin = pad * (high - low) or pad * (abs(high) or 1.0)
    low, high = low - margin, high + margin
    if metric == METRIC:
        low, high = max(0.0, low), min(1.0, high)
    return low, high


def set_aside_text(set_aside: Sequence[Any], rule: Usefulness) -> str:
    """``set aside trial 9 (accuracy 0.2944, 2.67K params): accuracy below ...``, or ``""``."""
    if not set_aside or rule.floor is None:
        return ""
    shown = ", ".join(f"{t.number} ({_accuracy(t):.4f})" for t in sorted(set_aside, key=lambda t: t.number))
    trials = "trials" if len(set_aside) > 1 else "trial"
    return f"set aside {trials} {shown}: {rule.reason()}"
