"""Warm start: a new study learns from studies already run (``run --warm-start STUDY``).

Three steps, each with one owner:

1. :func:`prepare` reads the earlier studies (``STUDY`` in this storage, or ``URL#STUDY``) and
   checks them before anything is written: each must exist, optimise the same objectives and
   hold complete trials (else one :class:`~scalesearch.errors.WarmStartError` line). Their
   configurations are mapped into the new space (``search/study/space_mapping.py``: families
   and knobs it lacks dropped, values clipped to its ranges, each change said once).
2. :func:`begin` (a new study only) queues up to :data:`QUEUED` configurations from the earlier
   studies' useful Pareto fronts (``search/results/useful.py``), spread from the cheapest to the
   most accurate, with ``enqueue_trial``: they are the new study's first trials, evaluated and
   counted like any other. It stores the earlier complete trials (mapped) as the system attr
   ``ss.warm_start.trials``, and where it started from as the user attr ``ss.warm_start``.
3. Every process that opens the study (``run``, ``run --workers N``, ``scalesearch worker``,
   a resume) wraps its TPE sampler in ``search/study/warm_sampler.py``'s ``WarmSampler``
   (``learning_sampler``), so the sampler's model also holds the earlier trials; the study's
   own trials, budget, front, hypervolume, notes and exports hold only its own.

The queue is Optuna's: enqueued trials wait in the storage and each is popped by exactly one
worker (a conditional state update); a resumed study is never queued again (``ss.warm_start``
marks it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scalesearch.errors import ScalesearchError, WarmStartError
from scalesearch.search.config import attrs
from scalesearch.search.config.spec import StudySpec, spec_to_data
from scalesearch.search.study.space_mapping import Changes, flat_config, map_config
from scalesearch.search.study.warm_sampler import learning_sampler

#: At most this many earlier configurations are queued (and at most half the budget): the front's
#: two ends and points between them; the sampler carries the rest of what the earlier study learned.
QUEUED = 4


@dataclass(frozen=True)
class Source:
    """One earlier study: where it is and what it holds."""

    ref: str  # as given: "d0" or "sqlite:///runs.db#d0"
    url: str
    name: str
    spec: StudySpec
    trials: int  # complete trials
    front: tuple[int, ...]  # trial numbers on its useful Pareto front


@dataclass
class WarmPlan:
    """What :func:`begin` will write: the sources, the configurations to queue, the earlier
    trials for the sampler (mapped), and the lines to say. ``kept``: a resumed study that was
    warm-started when it was created (nothing is written again)."""

    sources: list[Source]
    kept: str = ""
    queue: list[dict[str, Any]] = field(default_factory=list)  # {"params": .., "from": "d0 trial 12"}
    trials: list[dict[str, Any]] = field(default_factory=list)  # ss.warm_start.trials records
    lines: list[str] = field(default_factory=list)

    def provenance(self) -> list[dict[str, Any]]:
        """``ss.warm_start``: one short entry per earlier study."""
        from scalesearch.search.storage.storage import redact

        return [{"study": s.name, "storage": redact(s.url), "trials": s.trials, "front": len(s.front),
                 "queued": [q["from"] for q in self.queue if q["from"].startswith(f"{s.name} trial ")]}
                for s in self.sources]


def parse_ref(ref: str, default_url: str) -> tuple[str, str]:
    """``(storage URL, study name)`` of ``STUDY`` (this storage) or ``URL#STUDY``."""
    url, sep, name = ref.rpartition("#")
    if not sep:
        return default_url, ref
    if not url or not name:
        raise WarmStartError(f"warm start {ref!r}: expected STUDY or STORAGE_URL#STUDY")
    return url, name


def load_source(ref: str, default_url: str, spec: StudySpec) -> tuple[Source, list[Any]]:
    """The earlier study ``ref`` and its complete trials, checked against ``spec``."""
    import optuna

    from scalesearch.search.results.useful import useful_front
    from scalesearch.search.storage.storage import open_storage, resolve_url
    from scalesearch.search.study.study import load_study, stored_spec

    url, name = parse_ref(ref, default_url)
    url = resolve_url(url)
    try:
        study = load_study(open_storage(url, create=False), name)
        earlier = stored_spec(study)
    except ScalesearchError as e:
        raise WarmStartError(f"warm start {ref!r}: {e}") from None
    if list(earlier.objectives) != list(spec.objectives) and sorted(earlier.objectives) != sorted(spec.objectives):
        raise WarmStartError(f"warm start {ref!r}: it optimises {', '.join(earlier.objectives)}, this study "
                             f"{', '.join(spec.objectives)}; warm-start from a study with the same objectives")
    complete = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
                if t.values is not None]
    if not complete:
        raise WarmStartError(f"warm start {ref!r}: it has no complete trial yet; run it first or leave it out")
    front = tuple(sorted(t.number for t in useful_front(complete, earlier)))
    return Source(ref, url, name, earlier, len(complete), front), complete


def dataset_line(source: Source, spec: StudySpec) -> str | None:
    """One line when the earlier study ran on other data (allowed), else None."""
    def described(s: StudySpec) -> dict[str, Any]:
        data = spec_to_data(s)["dataset"]
        return data | {"input_size": s.dataset.input_size or s.space.input_size}

    before, now = described(source.spec), described(spec)
    differs = [f"{k} {before.get(k)!r} -> {now.get(k)!r}" for k in sorted(set(before) | set(now))
               if before.get(k) != now.get(k)]
    if not differs:
        return None
    return (f"{source.name} ran on other data ({', '.join(differs[:3])}): its configurations are a start, "
            "and its scores guide the sampler ranked within their own study")


def prepare(refs: Sequence[str], default_url: str, spec: StudySpec, *, new_study: tuple[str, str] | None = None) -> WarmPlan:
    """Read and check the earlier studies, map their trials into ``spec``'s space; writes nothing.

    ``new_study``: ``(url, name)`` of the study being started, which cannot warm-start itself.
    """
    from scalesearch.search.study.constraints import violations

    plan, changes, seen = WarmPlan([]), Changes(), set()
    candidates: list[tuple[list[float], dict[str, Any]]] = []
    for ref in refs:
        source, complete = load_source(ref, default_url, spec)
        if (source.url, source.name) == new_study:
            raise WarmStartError(f"warm start {ref!r}: that is the study being started; name an earlier one")
        if (source.url, source.name) in seen:
            continue
        seen.add((source.url, source.name))
        plan.sources.append(source)
        if (line := dataset_line(source, spec)) is not None:
            plan.lines.append(line)
        order = [list(source.spec.objectives).index(o) for o in spec.objectives]
        for trial in complete:
            mapped = map_config(_flat(trial, source.spec), spec.space, changes)
            if mapped is None:
                continue
            values = [float(trial.values[i]) for i in order]
            plan.trials.append({
                "study": source.name, "number": trial.number, "params": mapped.params, "values": values,
                "distributions": {k: _distribution_json(d) for k, d in mapped.distributions.items()},
                "constraints": violations(spec.conditions, _metrics(trial)),
            })
            if trial.number in source.front:
                candidates.append((values, {"params": mapped.params, "from": f"{source.name} trial {trial.number}"}))
    if not plan.trials:
        names = ", ".join(s.name for s in plan.sources)
        raise WarmStartError(f"warm start: no configuration of {names} fits this space (its families are not here)")
    plan.queue = spread(candidates, spec, limit=min(QUEUED, max(1, spec.budget.n_trials // 2)))
    plan.lines += changes.lines()
    return plan


def _flat(trial: Any, earlier: StudySpec) -> dict[str, Any]:
    """The trial's whole configuration (``ss.config``: fixed knobs too), else its Optuna params
    (plus the family of a one-family study, which is no param)."""
    from scalesearch.search.config.system_attrs import trial_config

    config = trial_config(trial)
    if config:
        return flat_config(config)
    families = list(earlier.space.families)
    return ({"family": families[0]} if len(families) == 1 else {}) | dict(trial.params)


def _metrics(trial: Any) -> dict[str, Any]:
    from scalesearch.search.config.system_attrs import exact_metrics

    return exact_metrics(trial)


def _distribution_json(distribution: Any) -> str:
    import optuna

    return optuna.distributions.distribution_to_json(distribution)


def spread(candidates: list[tuple[list[float], dict[str, Any]]], spec: StudySpec, *, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` distinct configurations, evenly spaced along the fronts sorted by the first
    objective (both ends kept)."""
    distinct: dict[str, tuple[list[float], dict[str, Any]]] = {}
    for values, entry in candidates:
        distinct.setdefault(json.dumps(entry["params"], sort_keys=True), (values, entry))
    sign = -1.0 if spec.directions[0] == "maximize" else 1.0
    ordered = [entry for _, entry in sorted(distinct.values(), key=lambda c: sign * c[0][0])]
    if len(ordered) <= limit:
        return ordered
    if limit == 1:
        return ordered[:1]
    picks = sorted({round(i * (len(ordered) - 1) / (limit - 1)) for i in range(limit)})
    return [ordered[i] for i in picks]


def for_launch(refs: Sequence[str], url: str, plan: Any) -> WarmPlan | None:
    """The warm start of ``run`` (``plan``: ``study.plan_study``'s), checked before anything is
    written; None without ``refs``."""
    if not refs:
        return None
    if plan.study is not None and not check_resume(plan.study, refs):
        return WarmPlan([], kept=started_from(plan.study))
    return prepare(refs, url, plan.spec, new_study=(url, plan.name))


def begin(study: Any, spec: StudySpec, plan: WarmPlan, say: Callable[[str], None]) -> None:
    """Write ``plan`` into a new study: the earlier trials for the sampler, the queue, and
    ``ss.warm_start`` last (its presence means "done": a resume never queues again); then let
    this process's sampler learn from them."""
    from scalesearch.search.config.system_attrs import set_study_data

    if plan.kept:
        say(f"study {study.study_name!r} keeps its start ({plan.kept}); nothing queued again")
        return
    set_study_data(study, attrs.WARM_TRIALS, plan.trials)
    for entry in plan.queue:
        study.enqueue_trial(entry["params"], user_attrs={attrs.WARM_FROM: entry["from"]}, skip_if_exists=True)
    study.set_user_attr(attrs.WARM_START, plan.provenance())
    study.sampler = learning_sampler(study, spec, study.sampler)  # this process; others on opening it
    for line in plan.lines:
        say(f"warm start: {line}")
    names = ", ".join(f"{s.name} ({s.trials} complete trials)" for s in plan.sources)
    learns = learns_from(study)
    say(f"warm start from {names}: {len(plan.queue)} configurations of their useful fronts queued first"
        + ("; the sampler learns from all their complete trials, which this study does not count" if learns else
           f"; sampler {type(study.sampler).__name__} does not learn from earlier trials, so only the queue carries over"))


def learns_from(study: Any) -> bool:
    from scalesearch.search.study.warm_sampler import learns_from_history

    return learns_from_history(getattr(study.sampler, "inner", study.sampler))


def check_resume(study: Any, refs: Sequence[str]) -> bool:
    """Whether ``study`` (existing) should get :func:`begin`: True when it never ran a trial and
    was not warm-started yet. A study already warm-started keeps its start (False, nothing queued
    again); one that has run trials without it cannot start over (:class:`WarmStartError`)."""
    import optuna

    done = study.user_attrs.get(attrs.WARM_START)
    if done:
        given = {parse_ref(r, "")[1] for r in refs}
        if given != {entry["study"] for entry in done}:
            raise WarmStartError(f"study {study.study_name!r} was warm-started from "
                                 f"{', '.join(e['study'] for e in done)} when it was created; it keeps that start")
        return False
    ran = [t for t in study.get_trials(deepcopy=False) if t.state != optuna.trial.TrialState.WAITING]
    if ran:
        raise WarmStartError(f"study {study.study_name!r} has already run {len(ran)} trial{'s' if len(ran) != 1 else ''}; a warm start "
                             "begins a new study (pick a new --study-name)")
    return True


def started_from(study: Any) -> str:
    """One line for notes and reports: ``warm-started from d0 (24 trials, 4 queued)``; "" when not."""
    entries = study.user_attrs.get(attrs.WARM_START) or []
    if not entries:
        return ""
    shown = ", ".join(f"{e['study']} ({e['trials']} trials, {len(e.get('queued', []))} of its front queued)"
                      for e in entries)
    return f"warm-started from {shown}"
