"""Noise-aware selection for ``export``: re-evaluate the top candidates with more seeds, then
pick on a lower confidence bound (default) or on the mean over seeds.

A single validation score is one seed on a few hundred images; a knee or max-accuracy rule that
reads it picks whichever small model got lucky. Rules (``--rule``), chosen by name from
:data:`RULES`:

- ``lcb`` (default): each trial's accuracy is read as the lower end of its validation interval
  (:mod:`.uncertainty`: seed spread and validation-set size);
- ``mean``: the mean accuracy over its trainings (seeds);
- ``single``: the one stored score, as before re-evaluation existed; nothing is trained.

For ``lcb`` and ``mean``:

1. the candidates are the trials that could be Pareto-optimal given their noise: a trial stays
   unless another dominates it even with its own accuracy read at the upper end of its
   validation interval (a lucky small model must not hide a steady one it only beats by luck);
2. the pick rule (``knee``, ``max:``/``min:<metric>``) ranks them on single scores, and its top
   ``M`` (``--reeval-top``, default 3) get ``K`` more trainings each (``--reeval-seeds``,
   default 2): at most ``M * K`` trainings, fewer when some are stored on the study already
   (``ss.stability.<trial>``, shared with ``scalesearch stability``), and each is stored there;
3. every candidate's accuracy is replaced by its rule value: the re-evaluated trials' from
   their seeds, the others' from their single score with the pooled seed std of all stored
   re-evaluations (so one lucky seed cannot win on its luck);
4. the pick rule ranks the candidates again on those values; the best re-evaluated trial wins;
   a knee then steps up among the re-evaluated trials on their mean accuracies (:func:`stepped_up`).

By default (``resplit``) each extra training trains on and is scored on a fresh stratified
train/validation partition of the study's train + validation images (``search/results/reeval.py``),
and a re-evaluated trial's accuracy is read from those trainings alone: its own score is on the
validation images the search chose the front on, which favour the trials it kept (selection
bias). ``export --same-split`` re-evaluates on the study's split and reads every training, the
trial's own included, as before re-splitting existed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from scalesearch.errors import SpecError, option
from scalesearch.search.config import attrs, system_attrs
from scalesearch.search.config.spec import StudySpec
from scalesearch.search.results.export import (
    numbered_trial,
    parse_pick,
    passing_trials,
    step_up,
)
from scalesearch.search.results.pareto import dominates
from scalesearch.search.results.reeval import (
    accuracies,
    missing,
    pool,
    reevaluate,
    stored_stability,
)
from scalesearch.search.results.report import complete_trials, doubted, feasible, fmt, pareto_trials
from scalesearch.search.results.uncertainty import Estimate, estimate
from scalesearch.search.results.useful import classes_of, set_aside_text, split_useful, usefulness
from scalesearch.search.training.train import Trainer, train

RULES: dict[str, Callable[[Estimate], float] | None] = {
    "lcb": lambda e: e.lower,
    "mean": lambda e: e.accuracy,
    "single": None,  # the trial's stored score; no re-evaluation
}
DEFAULT_SEEDS, DEFAULT_TOP = 2, 3


@dataclass(frozen=True)
class Selection:
    trial: Any
    estimate: Estimate
    rule: str
    reevaluated: tuple[int, ...]  # trials given extra seeds (the top candidates)
    trainings: int  # trainings run by this selection (stored ones are reused)
    resplit: bool = False  # re-evaluated on fresh train/validation partitions
    set_aside: str = ""  # one line: the trials left out as not useful models (search/results/useful.py), or ""
    off_front: str = ""  # one line when the pick is not on the stored-score front, and why, or ""
    budget: tuple[int, int] | None = None  # (seeds, top) run, after the default budget's cut (plan)

    def provenance(self, seeds: int, top: int) -> dict[str, Any]:
        seeds, top = self.budget or (seeds, top)
        budget = {"reeval_seeds": seeds, "reeval_top": top, "resplit": self.resplit} if self.rule != "single" else {}
        said = {k: v for k, v in (("set_aside", self.set_aside), ("off_front", self.off_front)) if v}
        return {"rule": self.rule, **budget, "reevaluated": list(self.reevaluated), "trainings": self.trainings, **said}


def check_rule(rule: str, seeds: int | None, top: int | None, same_split: bool = False,
               caller: str = "cli") -> tuple[int, int]:
    """The re-evaluation budget ``(seeds, top)`` after checking the request (one-line SpecError,
    naming the ``caller``'s flags or arguments: ``cli`` or ``python``)."""
    name = option(caller, "--rule", "rule")
    if rule not in RULES:
        raise SpecError(f"{option(caller, '--rule', 'rule', rule)}: choose from {', '.join(RULES)} (lcb: lower "
                        "confidence bound, mean: mean over seeds, single: the one stored score)")
    if rule == "single" and (seeds is not None or top is not None or same_split):
        raise SpecError(f"{option(caller, '--reeval-seeds/--reeval-top/--same-split', 'seeds/top/same_split')} "
                        f"re-evaluate for {name} lcb or mean; {name} single trains nothing")
    for flag, value in ((option(caller, "--reeval-seeds", "seeds"), seeds), (option(caller, "--reeval-top", "top"), top)):
        if value is not None and value < 1:
            raise SpecError(f"{flag}: must be 1 or more, got {value}")
    return (DEFAULT_SEEDS if seeds is None else seeds), (DEFAULT_TOP if top is None else top)


def split_sizes(study: Any, spec: StudySpec, data: Any = None) -> tuple[int, int]:
    """``(validation, test)`` images of the study's recorded split (or of ``data``)."""
    from scalesearch.search.datasets.recorded import split_record

    record = split_record(study)
    if record and "sizes" in record:
        return int(record["sizes"]["val"]), int(record["sizes"]["test"])
    if data is None:
        from scalesearch.search.study.study import load_data

        data = load_data(spec.dataset, None, "cpu", study=study)
    return len(data.val), len(data.test)


def estimates(study: Any, spec: StudySpec, trials: Sequence[Any], data: Any = None, *,
              resplit: bool = False) -> dict[int, Estimate]:
    """Each trial's accuracy :class:`Estimate` from its own and stored trainings (with
    ``resplit``, from its trainings on fresh partitions where it has any: ``reeval.accuracies``)."""
    n_val, n_test = split_sizes(study, spec, data)
    stored = stored_stability(study)
    pooled = pool(study, spec, stored, resplit=resplit)
    return {t.number: estimate(accuracies(t, stored, resplit=resplit), n_val, n_test, pooled=pooled) for t in trials}


def plausibly_optimal(study: Any, spec: StudySpec, trials: Sequence[Any], data: Any = None, *,
                      resplit: bool = False) -> list[Any]:
    """The trials no other dominates even when their own accuracy is read at its upper bound."""
    if "accuracy" not in spec.objectives:
        return pareto_trials(trials, spec, {})  # doubted measurements are left out before
    est = estimates(study, spec, trials, data, resplit=resplit)
    signs = [-1.0 if d == "maximize" else 1.0 for d in spec.directions]
    points = {t.number: [s * v for s, v in zip(signs, _adjusted(t, spec, est[t.number].accuracy).values, strict=True)]
              for t in trials}
    index = spec.objectives.index("accuracy")
    keep = []
    for t in trials:
        hopeful = list(points[t.number])
        hopeful[index] = -est[t.number].validation[1]
        if not any(dominates(points[o.number], hopeful) for o in trials if o.number != t.number):
            keep.append(t)
    return keep


def _adjusted(trial: Any, spec: StudySpec, accuracy: float) -> Any:
    """A stand-in for ``trial`` whose accuracy (objective value and metric, shown and exact) is ``accuracy``."""
    values = [accuracy if name == "accuracy" else v for name, v in zip(spec.objectives, trial.values, strict=True)]
    exact = system_attrs.exact_metrics(trial) | {"accuracy": accuracy}
    return SimpleNamespace(number=trial.number, values=values, trial=trial,
                           user_attrs=trial.user_attrs | {attrs.metric_key("accuracy"): accuracy},
                           system_attrs=trial.system_attrs | {system_attrs.METRICS: exact})


def select(study: Any, spec: StudySpec, pick: str = "knee", where: Sequence[str] = (), *, rule: str = "lcb",
           seeds: int | None = None, top: int | None = None, data: Any = None, device: str | None = None,
           trainer: Trainer = train, on_training: Callable[[int, int], None] | None = None,
           trial: int | None = None, resplit: bool = True, on_plan: Callable[[str], None] | None = None,
           caller: str = "cli") -> Selection:
    """The trial ``pick`` chooses under ``rule`` (see the module docstring), with its estimate;
    with ``trial``, that trial as it is (``export --trial N``: no pick, no re-evaluation; its
    stored re-split trainings are read unless ``resplit`` is false). Trials that are not useful
    models (:mod:`.useful`) are set aside first; ``on_plan`` hears, before any training, what the
    re-evaluation will run and cost (:func:`plan`). Errors and advice name the ``caller``'s flags
    or arguments (``cli`` or ``python``)."""
    if trial is not None:
        chosen = numbered_trial(study, trial, caller)
        rule_u = usefulness([t for t in complete_trials(study) if t.values is not None], spec,
                            classes=classes_of(spec, data))
        note = "" if rule_u.useful(system_attrs.exact_metrics(chosen).get("accuracy")) else \
            f"trial {chosen.number} is not a useful model ({rule_u.reason()}); exported as asked"
        return Selection(chosen, estimates(study, spec, [chosen], data, resplit=resplit)[chosen.number], "single", (), 0,
                         set_aside=note)
    explicit = seeds is not None or top is not None
    seeds, top = check_rule(rule, seeds, top, caller=caller)
    rank = parse_pick(pick, caller)
    value = RULES[rule]
    passing = passing_trials(study, spec, where, caller)
    stored_front = pareto_trials(passing, spec, {})  # doubted measurements: left out of passing already
    useful, aside = split_useful(passing, spec, classes=classes_of(spec, data))
    front_numbers = {t.number for t in stored_front}
    aside_line = set_aside_text([t for t in aside if t.number in front_numbers],
                                usefulness(passing, spec, classes=classes_of(spec, data)))
    if value is None:
        chosen = rank(pareto_trials(useful, spec, {}), spec)[0]
        return Selection(chosen, estimates(study, spec, [chosen], data)[chosen.number], rule, (), 0, set_aside=aside_line)
    plausible = plausibly_optimal(study, spec, useful, data, resplit=resplit)
    ranked = rank(plausible, spec)
    top, seeds, line = plan(study, spec, ranked, seeds, top, explicit=explicit, resplit=resplit, caller=caller)
    if on_plan is not None:
        on_plan(line)
    candidates = ranked[:top]
    trainings: list[tuple[int, int]] = []

    def count(trial: int, seed: int) -> None:
        trainings.append((trial, seed))
        if on_training is not None:
            on_training(trial, seed)

    reevaluate(study, spec, candidates, seeds + 1, data=data, device=device, trainer=trainer, resplit=resplit,
               on_training=count)
    est = estimates(study, spec, plausible, data, resplit=resplit)
    numbers = {t.number for t in candidates}
    reranked = rank([_adjusted(t, spec, value(est[t.number])) for t in plausible], spec)
    chosen = next(p.trial for p in reranked if p.number in numbers)
    if pick.partition(":")[0] == "knee":
        chosen = stepped_up(chosen, candidates, est, spec)
    off = off_front_text(chosen, stored_front, spec, rule, len(est[chosen.number].accuracies))
    return Selection(chosen, est[chosen.number], rule, tuple(t.number for t in candidates), len(trainings), resplit,
                     aside_line, off, (seeds, top))


def stepped_up(chosen: Any, candidates: Sequence[Any], est: dict[int, Estimate], spec: StudySpec) -> Any:
    """The knee's step-up (:func:`.export.step_up`) once more, over the re-evaluated candidates'
    mean accuracies: a lower bound ranks them for robustness, but "more than 1.5 points better
    for less than 3x the cost" is a statement about expected accuracy, and every candidate has
    been trained on as many seeds. (Read on lower bounds it misses a larger candidate whose bound
    is wider only because its seeds spread more.)"""
    means = {t.number: _adjusted(t, spec, est[t.number].accuracy) for t in candidates}
    order = [means[chosen.number]] + [m for number, m in means.items() if number != chosen.number]
    return step_up(order, spec)[0].trial


def off_front_text(chosen: Any, front: Sequence[Any], spec: StudySpec, rule: str, seeds: int) -> str:
    """One line when ``chosen`` is not on ``front`` (the stored single scores' front, the one ``run``
    printed): which front trial dominates it there, and why it was picked all the same; else ""."""
    if any(t.number == chosen.number for t in front):
        return ""
    signs = [-1.0 if d == "maximize" else 1.0 for d in spec.directions]
    signed = lambda t: [s * v for s, v in zip(signs, t.values, strict=True)]  # noqa: E731
    over = next((t for t in front if dominates(signed(t), signed(chosen))), None)
    by = "" if over is None else f"trial {over.number} dominates it there: " + ", ".join(
        f"{name} {fmt(a, name)} vs {fmt(b, name)}" for name, a, b in zip(spec.objectives, over.values, chosen.values,
                                                                        strict=True))
    return (f"trial {chosen.number} is not on the Pareto front run printed (stored single scores; {by}); its score "
            f"is within noise of that front, and re-evaluation over {seeds} seeds ranked it first under rule {rule}")


#: By default re-evaluation may spend at most this share of the study's own trial time.
BUDGET_SHARE = 0.25


def least_seeds(resplit: bool) -> int:
    """The fewest extra seeds that give a re-evaluated trial a seed spread of its own: 2 on fresh
    partitions (its own score is not read there), 1 on the study's split (its own is the second)."""
    return 2 if resplit else 1


def _seconds(trial: Any) -> float:
    metrics = system_attrs.exact_metrics(trial)
    return float(trial.user_attrs.get(attrs.metric_key("trial_seconds")) or metrics.get("train_seconds") or 0.0)


def plan(study: Any, spec: StudySpec, ranked: Sequence[Any], seeds: int, top: int, *, explicit: bool = False,
         resplit: bool = True, caller: str = "cli") -> tuple[int, int, str]:
    """``(top, seeds, line)``: the re-evaluation to run and one line saying what it costs. Each
    training is costed at its trial's own recorded time (stored trainings are reused, free).
    Unless ``explicit``, the default budget re-evaluates fewer candidates (down to the pick alone),
    then fewer seeds (down to :func:`least_seeds`), until it costs at most :data:`BUDGET_SHARE` of
    the study's summed trial time; when even that least costs more, the line says so."""
    total = sum(_seconds(t) for t in complete_trials(study))
    budget = BUDGET_SHARE * total

    def cost(top: int, seeds: int) -> tuple[int, float]:
        todo = missing(study, spec, ranked[:top], seeds + 1, resplit=resplit)
        return len(todo), sum(_seconds(t) for t, _ in todo)

    shrunk, least = False, min(seeds, least_seeds(resplit))
    if not explicit and total > 0:
        while cost(top, seeds)[1] > budget and (top > 1 or seeds > least):
            top, seeds, shrunk = (top - 1, seeds, True) if top > 1 else (top, seeds - 1, True)
    n, seconds = cost(top, seeds)
    reused = top * seeds - n if len(ranked) >= top else 0
    m = min(top, len(ranked))
    line = (f"re-evaluating {f'the top {m} candidates' if m != 1 else 'the top candidate'} with {seeds} more "
            f"seed{'s' if seeds != 1 else ''} "
            f"each: {n} training{'s' if n != 1 else ''}" + (f", about {seconds:.0f} s" if seconds else "")
            + (f" ({reused} stored, reused)" if reused > 0 else "")
            + (f"; the study's trials took {total:.0f} s" if total else ""))
    choose = f"{option(caller, '--reeval-top/--reeval-seeds', 'top/seeds')} to choose"
    single = option(caller, "--rule single", "rule='single'")
    share = round(100 * BUDGET_SHARE)
    if not explicit and total > 0 and seconds > budget:
        line += (f"; {round(100 * seconds / total)} % of that, over the default budget of {share} %: fewer "
                 f"trainings would measure no seed spread ({single} trains nothing; {choose})")
    elif shrunk:
        line += f"; default budget cut to {share} % of that ({choose})"
    return top, seeds, line


def final_reeval(study: Any, spec: StudySpec, *, data: Any = None, device: str | None = None,
                 trainer: Trainer = train, on_training: Callable[[int, int], None] | None = None) -> dict[int, dict[str, Any]]:
    """The spec's ``measure.final_reeval``: the ``top`` trials nearest the knee among those that
    could be Pareto-optimal (as ``export --rule lcb`` picks its candidates) get ``seeds`` more
    trainings each on the study's split, stored as ``ss.stability.<trial>`` (what is stored is
    reused; ``export --same-split`` reuses them, a default export re-splits and trains its own).
    Returns the records trained now (``{}`` when it is off or all were stored)."""
    wanted = spec.measure.final_reeval
    complete = [t for t in complete_trials(study) if t.values is not None]
    doubts = doubted(complete, spec)
    trials = [t for t in complete if feasible(t, spec, doubts)]
    if not wanted.top or not trials:
        return {}
    useful = split_useful(trials, spec, classes=classes_of(spec, data))[0]
    candidates = parse_pick("knee")(plausibly_optimal(study, spec, useful, data), spec)[:wanted.top]
    return reevaluate(study, spec, candidates, wanted.seeds + 1, data=data, device=device, trainer=trainer,
                      on_training=on_training)
