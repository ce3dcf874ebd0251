"""Early stopping: which trials end before their full epoch budget, decided across workers.

A rule is a small strategy object chosen by name from :data:`EARLY_STOPPING` (like an Optuna
pruner). It answers two questions and nothing else:

- ``before_training(study, trial)``: stop now, from costs alone (e.g. a violated constraint)?
- ``should_stop(study, trial, epoch, value)``: stop after this epoch, given the validation
  accuracy ``value`` and what every other trial recorded?

Either returns a :class:`Decision` (stop, and why) or None (carry on). :class:`Hook` connects a
rule to the objective: it records the stop on the trial and raises ``optuna.TrialPruned``.

``asha`` is asynchronous successive halving on epochs with a Pareto ranking, for studies with
any number of objectives (Optuna's own pruners refuse multi-objective studies). Its state lives
only in the study storage -- each trial's rung values are user attrs (``ss.rung.<epochs>``) --
so it behaves the same with SQLite, a journal file or PostgreSQL and any number of workers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from scalesearch.search.config import attrs, system_attrs
from scalesearch.search.config.metrics import Condition
from scalesearch.search.results.pareto import rank_and_crowding
from scalesearch.search.runtime.budget import NewlyFinished
from scalesearch.search.training.train import EpochReport, TrainConfig, warmup_epochs

#: Cost metrics the objective stores before training starts, so rungs can compare on them. They
#: are the deployed model's (compressed as the trial's config says, ``search/compression/estimate.py``)
#: and kept as ``ss.planned.<metric>``, so every trial at a rung, running or finished, is ranked
#: on costs known at the same point: like with like.
KNOWN_BEFORE_TRAINING = ("params", "flops", "size_mb")
#: Optuna constraint set on a trial stopped early in a multi-objective study (see :class:`Hook`).
EARLY_STOPPED = "ss.early_stopped"


@dataclass(frozen=True)
class Decision:
    """Stop the trial after ``epoch`` epochs (0: before training) because of ``reason``."""

    epoch: int
    reason: str


class EarlyStopping(Protocol):
    def before_training(self, study: Any, trial: Any) -> Decision | None: ...
    def should_stop(self, study: Any, trial: Any, epoch: int, value: float) -> Decision | None: ...


def trial_training(trial: Any) -> TrainConfig:
    """The trial's sampled training knobs (epochs, schedule, ...), trainer defaults elsewhere."""
    config = system_attrs.trial_config(trial)
    return TrainConfig(**config.get("training", {}))


def trial_budget(trial: Any) -> int:
    """The epochs a trial trains for when nothing stops it (its sampled ``training.epochs``)."""
    return trial_training(trial).epochs


class NoEarlyStopping:
    """Every trial trains for its full budget."""

    def before_training(self, study: Any, trial: Any) -> Decision | None:
        return None

    def should_stop(self, study: Any, trial: Any, epoch: int, value: float) -> Decision | None:
        return None


class ParetoASHA:
    """Asynchronous successive halving on epochs, ranking peers by Pareto dominance.

    Rungs sit at ``min_epochs * eta**k`` epochs, below the trial's budget and not before its
    learning-rate warm-up ends (one-cycle spends 30 % of training ramping up; accuracy there
    ranks how fast a model learns at a small learning rate, not how good it ends). At a rung, the trial
    records its validation accuracy, then is ranked among every trial (any worker, any state)
    that recorded a value at the same rung. The ranking objectives are validation accuracy
    (maximised) and the study's cost objectives that are known before training (params, flops,
    size_mb; on a log scale so crowding is measured in ratios). Order: non-dominated front,
    then crowding distance within the front (NSGA-II). With ``n`` trials at the rung (itself
    included), the trial continues while fewer than ``max(1, floor(n / eta))`` peers rank
    strictly above it -- peers that tie with it do not count -- and ends as PRUNED otherwise.
    The first ``min_trials_per_rung`` trials to reach a rung continue unranked (there is no
    field to compare with yet); a lone trial at a rung always continues.

    Before training, a trial whose known costs violate a spec constraint stops at once.
    """

    def __init__(self, objectives: Sequence[str], conditions: Sequence[Condition] = (), *,
                 min_epochs: int = 3, eta: float = 3.0, min_trials_per_rung: int = 1):
        if min_epochs < 1 or eta <= 1 or min_trials_per_rung < 1:
            raise ValueError("need min_epochs >= 1, eta > 1 and min_trials_per_rung >= 1")
        self.costs = [m for m in objectives if m in KNOWN_BEFORE_TRAINING]
        self.conditions = [c for c in conditions if c.metric in KNOWN_BEFORE_TRAINING]
        self.min_epochs, self.eta, self.min_trials_per_rung = min_epochs, eta, min_trials_per_rung
        self.finished_points: dict[tuple[str, int], FinishedPoints] = {}  # (study, rung) -> cache

    def rungs(self, budget: int, warmup: float = 0.0) -> list[int]:
        """Epoch counts at which a trial with ``budget`` epochs, ``warmup`` of them spent
        warming up the learning rate, is compared; ascending."""
        out: list[int] = []
        k = 0
        while (rung := round(self.min_epochs * self.eta**k)) < budget:
            if rung >= warmup and (not out or rung > out[-1]):
                out.append(rung)
            k += 1
        return out

    def trial_rungs(self, trial: Any) -> list[int]:
        training = trial_training(trial)
        return self.rungs(training.epochs, warmup_epochs(training))

    def before_training(self, study: Any, trial: Any) -> Decision | None:
        metrics = system_attrs.exact_metrics(trial)  # the planned costs, not their rounded display
        for condition in self.conditions:
            if condition.metric in metrics and not condition.holds(metrics):
                value = metrics[condition.metric]
                return Decision(0, f"violates constraint {condition} ({condition.metric}={value:g}) before training")
        return None

    def should_stop(self, study: Any, trial: Any, epoch: int, value: float) -> Decision | None:
        if epoch not in self.trial_rungs(trial):
            return None
        system_attrs.set_shown(trial, attrs.rung_key(epoch), float(value))  # shared with every worker
        mine = self.point(value, trial)
        peers = list(rung_points(study, epoch, self, exclude=trial.number))
        n = len(peers) + 1
        if mine is None or n <= self.min_trials_per_rung:
            return None
        keep = max(1, math.floor(n / self.eta))
        keys = rank_and_crowding([mine, *peers], self.directions)
        better = sum(1 for key in keys[1:] if _order(key) < _order(keys[0]))
        if better < keep:
            return None
        return Decision(epoch, f"asha: at rung {epoch} epochs (accuracy {value:.4f}), {better} of "
                               f"{n - 1} peers rank higher; only the top {keep} of {n} continue")

    @property
    def directions(self) -> list[str]:
        return ["maximize"] + ["minimize"] * len(self.costs)

    def point(self, accuracy: float, trial: Any) -> list[float] | None:
        """``trial``'s ranking point ``[accuracy, log10(cost), ...]``; None if a cost is missing.

        Costs are the planned ones (before training), else (a study from before they were
        stored) the measured ones; exact, not the rounded user attrs people read."""
        point = [float(accuracy)]
        for name in self.costs:
            cost = system_attrs.trial_data(trial, attrs.planned_key(name))
            if cost is None:
                cost = system_attrs.exact_metrics(trial).get(name)
            if not isinstance(cost, int | float) or cost <= 0:
                return None
            point.append(math.log10(cost))
        return point


def _order(key: tuple[int, float]) -> tuple[int, float]:
    rank, crowding = key
    return rank, -crowding


def rung_points(study: Any, epoch: int, rule: ParetoASHA, exclude: int | None = None) -> Iterable[list[float]]:
    """Ranking points of every trial that recorded a value at rung ``epoch``.

    A finished trial's rung value and costs never change, so its point is computed once per
    rule and study (:class:`FinishedPoints`); running trials are read afresh at every decision."""
    import optuna

    key = attrs.rung_key(epoch)
    cache = rule.finished_points.setdefault((study.study_name, epoch), FinishedPoints())
    yield from (point for number, point in cache.update(study, key, rule) if number != exclude)
    for other in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if other.number != exclude and key in other.user_attrs:
            point = rule.point(system_attrs.trial_data(other, key), other)
            if point is not None:
                yield point


class FinishedPoints:
    """The ranking points at one rung of the study's ended trials, each computed once."""

    def __init__(self) -> None:
        self._new = NewlyFinished()
        self.points: list[tuple[int, list[float]]] = []

    def update(self, study: Any, key: str, rule: ParetoASHA) -> list[tuple[int, list[float]]]:
        for t in self._new(study):
            point = rule.point(system_attrs.trial_data(t, key), t) if key in t.user_attrs else None
            if point is not None:
                self.points.append((t.number, point))
        return self.points


# --------------------------------------------------------------------------- registry


def _none(objectives: Sequence[str], conditions: Sequence[Condition], **options: Any) -> EarlyStopping:
    return NoEarlyStopping()


def _asha(objectives: Sequence[str], conditions: Sequence[Condition], **options: Any) -> EarlyStopping:
    return ParetoASHA(objectives, conditions, **options)


#: The rules by name: the names of ``early_stopping_spec.RULES``, which the spec checks against.
EARLY_STOPPING: dict[str, Callable[..., EarlyStopping]] = {"none": _none, "asha": _asha}


def make_early_stopping(name: str, objectives: Sequence[str], conditions: Sequence[Condition] = (),
                        **options: Any) -> EarlyStopping:
    """The rule registered as ``name``; ``options`` are its settings (min_epochs, eta, ...)."""
    return EARLY_STOPPING[name](objectives, conditions, **options)


# --------------------------------------------------------------------------- objective glue


class Hook:
    """Runs a rule from the objective's callbacks and ends stopped trials as PRUNED.

    A stopped trial records ``ss.prune_reason``, ``ss.rung_reached`` (epochs trained),
    ``ss.epochs_run`` and its partial ``ss.val_curve``; its rung values are already stored.

    What the sampler learns from a stopped trial: in a single-objective study each epoch is
    reported to Optuna (``trial.report``), so TPE ranks pruned trials by how far they got.
    Optuna refuses intermediate values with several objectives, and multi-objective TPE then
    treats every pruned trial alike (and fills its "good" group with the earliest ones when
    there are few complete trials). So a stopped trial gets the constraint
    :data:`EARLY_STOPPED` = ``1 - epochs trained / budget`` (> 0: infeasible): TPE ranks it
    below every complete trial and above trials stopped at an earlier rung.
    """

    def __init__(self, rule: EarlyStopping, n_objectives: int):
        self.rule = rule
        self.report = n_objectives == 1
        self._curves: dict[int, list[float]] = {}

    def before_training(self, trial: Any) -> None:
        decision = self.rule.before_training(trial.study, trial)
        if decision is not None:
            self._stop(trial, decision, [])

    def on_epoch(self, trial: Any, report: EpochReport) -> None:
        curve = self._curves.setdefault(trial.number, [])
        curve.append(report.val_accuracy)
        if self.report:
            trial.report(report.val_accuracy, report.epoch)
        decision = self.rule.should_stop(trial.study, trial, report.epoch, report.val_accuracy)
        if decision is not None:
            self._stop(trial, decision, curve)
        if report.epoch >= trial_budget(trial):
            self._curves.pop(trial.number, None)

    def _stop(self, trial: Any, decision: Decision, curve: list[float]) -> None:
        import optuna

        self._curves.pop(trial.number, None)
        trial.set_user_attr(attrs.PRUNE_REASON, decision.reason)
        trial.set_user_attr(attrs.RUNG_REACHED, decision.epoch)
        trial.set_user_attr(attrs.metric_key("epochs_run"), decision.epoch)
        if curve:
            system_attrs.set_trial_data(trial, system_attrs.VAL_CURVE, [round(a, 5) for a in curve])
        if not self.report and hasattr(trial, "set_constraint"):  # Optuna >= 5
            trial.set_constraint(EARLY_STOPPED, 1 - decision.epoch / max(1, trial_budget(trial)))
        raise optuna.TrialPruned(decision.reason)
