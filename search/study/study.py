"""Create, resume and run a study: the spec is stored with the study, the budget is study-wide.

``run_study`` is what ``scalesearch run`` calls. ``n_trials`` counts finished trials
(COMPLETE + PRUNED) over the study's whole life, so re-running an interrupted study finishes
the remainder instead of starting over.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from scalesearch.errors import SpecError, StorageError
from scalesearch.search.config import attrs, system_attrs
from scalesearch.search.config.spec import (
    DatasetSpec,
    StudySpec,
    apply_overrides,
    spec_from_data,
    spec_to_data,
)
from scalesearch.search.runtime.budget import FINISHED, epochs_spent
from scalesearch.search.runtime.liveness import Retry
from scalesearch.search.storage.storage import (
    Heartbeat,
    open_storage,
    redact,
    resolve_url,
    stored_study,
)
from scalesearch.search.study.early_stopping import Hook, make_early_stopping
from scalesearch.search.study.objective import Events, Objective, constraints_func
from scalesearch.search.study.samplers import make_sampler
from scalesearch.search.study.seeding import study_seed
from scalesearch.search.study.startup import queue_baselines, with_startup
from scalesearch.search.study.warm_sampler import learning_sampler
from scalesearch.search.training.train import Trainer, train

#: Spec sections that may differ when resuming (they say how long to run, not what to run).
RESUMABLE_KEYS = ("budget",)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("scalesearch", "optuna", "torch", "timm", "torch-pruning"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    return out


def spec_conflicts(stored: dict[str, Any], given: dict[str, Any]) -> list[str]:
    """Dotted keys where two spec datas differ, ignoring :data:`RESUMABLE_KEYS`."""
    diffs: list[str] = []

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(a.get(key), b.get(key), f"{path}.{key}" if path else key)
        elif a != b:
            diffs.append(path)

    walk({k: v for k, v in stored.items() if k not in RESUMABLE_KEYS},
         {k: v for k, v in given.items() if k not in RESUMABLE_KEYS}, "")
    return diffs


def load_study(storage: Any, study_name: str) -> Any:
    """An existing study; :class:`StorageError` naming the studies that do exist otherwise."""
    import optuna

    try:
        return stored_study(study_name, storage)
    except KeyError:
        names = sorted(s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False))
        hint = f"studies here: {', '.join(names)}" if names else "this storage holds no study yet"
        raise StorageError(f"study {study_name!r} not found; {hint}") from None


def stored_spec(study: Any) -> StudySpec:
    data = system_attrs.study_data(study, attrs.SPEC)  # a system attr; older studies: a user attr
    if data is None:
        raise StorageError(f"study {study.study_name!r} was not created by scalesearch (it has no stored spec)")
    return spec_from_data(data)


def with_budget(spec: StudySpec, budget: dict[str, Any]) -> StudySpec:
    """``spec`` with budget fields replaced (e.g. ``{"n_trials": 10}``), validated."""
    return spec_from_data(spec_to_data(spec) | {"budget": dataclasses.asdict(spec.budget) | budget})


@dataclass(frozen=True)
class StudyPlan:
    """What :func:`open_study` will do, decided without writing anything (:func:`plan_study`)."""

    name: str
    spec: StudySpec  # the spec the study runs with (budget applied)
    action: str  # "create", "resume", or "respecify" (a study that never ran a trial gets a new spec)
    study: Any = None  # the existing study (resume, respecify)
    stored: StudySpec | None = None  # its stored spec


#: How a caller resumes a study, in its own words (``caller`` of :func:`plan_study`).
RESUME_ADVICE = {
    "cli": "resume it with --study-name {name} and no spec file, or pick a new --study-name",
    "python": "resume it with scalesearch.run(study_name={name!r}, storage=...) and no spec, or pick a new study_name",
}


def existing_study(storage_url: str | None, name: str) -> Any:
    """Study ``name`` in the storage, or None when the storage or the study does not exist yet
    (nothing is created)."""
    import optuna

    try:
        storage = open_storage(storage_url, create=False)
    except StorageError as e:
        if "does not exist" in str(e):
            return None
        raise
    if name not in {s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}:
        return None
    return load_study(storage, name)


def never_ran(study: Any) -> bool:
    """No trial was ever started in ``study`` (enqueued, waiting ones do not count): a study left
    empty by a failed start, whose spec may still be replaced."""
    import optuna

    return all(t.state == optuna.trial.TrialState.WAITING for t in study.get_trials(deepcopy=False))


def plan_study(spec: StudySpec | None, storage_url: str | None, study_name: str | None = None, *,
               budget: dict[str, Any] | None = None, overrides: Sequence[str] = (),
               caller: str = "cli") -> StudyPlan:
    """Decide whether to create, resume or re-specify the study, checking the spec against the
    stored one, without writing anything (not even an empty storage file).

    ``spec`` None means "use the spec stored with ``study_name``" (with ``overrides`` applied to
    it, as ``--set`` does to a file). A spec that differs from the stored one (other than its
    budget) is refused with the differing keys, in the ``caller``'s words (``cli`` or
    ``python``), unless the study never ran a trial: then the new spec replaces it.
    """
    name = study_name or (spec.study_name if spec else None)
    if name is None:
        raise SpecError("run: give a spec file or --study-name of an existing study")
    if spec is None:
        open_storage(storage_url, create=False)  # a missing storage is an error here, in one line
    study = existing_study(storage_url, name)
    if study is None:
        if spec is None:
            raise StorageError(f"study {name!r} not found in {redact(resolve_url(storage_url))}; "
                               "give a spec file to create it")
        plan = StudyPlan(name, dataclasses.replace(spec, study_name=name), "create")
    else:
        stored = stored_spec(study)
        if spec is None and overrides:
            spec = spec_from_data(apply_overrides(spec_to_data(stored), overrides, caller))
        action, chosen = "resume", stored
        if spec is not None:
            given = dataclasses.replace(spec, study_name=name)
            diffs = spec_conflicts(spec_to_data(stored), spec_to_data(given))
            if diffs and never_ran(study):
                action, chosen = "respecify", given
            elif diffs:
                _refuse_conflict(name, diffs, stored, given, caller)
            else:
                chosen = dataclasses.replace(stored, budget=given.budget)
        plan = StudyPlan(name, chosen, action, study, stored)
    if budget:
        plan = dataclasses.replace(plan, spec=with_budget(plan.spec, budget))
    return plan


def _refuse_conflict(name: str, diffs: list[str], stored: StudySpec, given: StudySpec, caller: str) -> None:
    from scalesearch.errors import DataError

    if stored.dataset.kind == "python" and all(d.startswith("dataset.") for d in diffs):
        if given.dataset.kind != "python":
            how = ("pass data= (the same x, y or Dataset) to resume it" if caller == "python" else
                   "resume it from Python: scalesearch.run(study_name=..., storage=..., data=...) with the same data")
            raise DataError(f"study {name!r} ran on data given in Python (data=); {how}")
        if caller == "python":
            raise DataError(f"data: not the data study {name!r} ran on; pass the same x, y or Dataset, "
                            "or pick a new study_name")
    shown = ", ".join(diffs[:4]) + (" ..." if len(diffs) > 4 else "")
    advice = RESUME_ADVICE.get(caller, RESUME_ADVICE["cli"]).format(name=name)
    raise SpecError(f"study {name!r} already exists with a different spec ({shown}); {advice}")


def open_study(spec: StudySpec | None, storage_url: str | None, study_name: str | None = None, *,
               budget: dict[str, Any] | None = None, overrides: Sequence[str] = ()) -> tuple[Any, StudySpec]:
    """Create the study, or resume it (:func:`plan_study`, then :func:`apply_plan`).

    ``n_trials`` is study-wide, so a changed one is stored for every worker to read; ``timeout``
    is per process.
    """
    return apply_plan(plan_study(spec, storage_url, study_name, budget=budget, overrides=overrides), storage_url)


def apply_plan(plan: StudyPlan, storage_url: str | None, *, warm: bool = False) -> tuple[Any, StudySpec]:
    """Carry out ``plan``: create the study (a study that never ran is deleted and created again
    with its new spec), or store a resumed study's changed budget; then open it for running."""
    import optuna

    name, spec = plan.name, plan.spec
    storage = open_storage(storage_url, create=True)
    if plan.action == "respecify":
        optuna.delete_study(study_name=name, storage=storage)
    if plan.action in ("create", "respecify"):
        study = optuna.create_study(storage=storage, study_name=name, directions=spec.directions,
                                    load_if_exists=True)
        study.set_metric_names(list(spec.objectives))
        # The spec is for programs: a system attr, off the dashboard's study page (a JSON blob cut at 1,024 chars).
        storage.set_study_system_attr(storage.get_study_id_from_name(name), attrs.SPEC, spec_to_data(spec))
        study.set_user_attr(attrs.VERSIONS, versions())
        queue_baselines(study, spec)  # search/study/startup.py
    elif plan.stored is not None and spec.budget.n_trials != plan.stored.budget.n_trials:
        data = system_attrs.study_data(plan.study, attrs.SPEC)
        system_attrs.set_study_data(plan.study, attrs.SPEC, data | {"budget": data.get("budget", {}) | {"n_trials": spec.budget.n_trials}})
    # Re-open with the spec's heartbeat settings, so every worker of this study uses the same ones.
    heartbeat = Heartbeat(spec.workers.heartbeat_seconds, spec.workers.grace_seconds,
                          on_stale=Retry(spec.workers.max_retries))
    study = stored_study(name, open_storage(storage_url, heartbeat=heartbeat))
    # Seeded from the study's state, so a resumed study never re-proposes its first configs.
    seed = study_seed(spec.sampler.seed, study)
    sampler = make_sampler(spec.sampler.name, seed, constraints_func(spec), spec.budget.n_trials)
    # The startup design (search/study/startup.py); a warm start's earlier trials instead.
    study.sampler = learning_sampler(study, spec, with_startup(sampler, study, spec, warm=warm))
    return study, spec


def count_finished(study: Any) -> int:
    import optuna

    states = tuple(getattr(optuna.trial.TrialState, s) for s in FINISHED)
    return len(study.get_trials(deepcopy=False, states=states))


def load_data(dataset: DatasetSpec, default_input_size: int | None, device: str, *,
              study: Any = None, split: dict[str, Any] | None = None) -> Any:
    """The spec's dataset at the space's input size (unless the spec sets one), on ``device``
    when that is a GPU (in-memory data then lives there for the whole study).

    With ``study``, the split recorded in it (``ss.split``) is used, or recorded on first use;
    ``split`` gives such a record directly (an export's).
    """
    from scalesearch.search.datasets import load_dataset
    from scalesearch.search.datasets.recorded import load_for_study

    dataset = dataclasses.replace(dataset, input_size=dataset.input_size or default_input_size)
    data = load_for_study(study, dataset) if study is not None else load_dataset(dataset, record=split)
    return data.to(device) if device.startswith("cuda") else data


def early_stopping_hook(spec: StudySpec) -> Hook:
    es = spec.early_stopping
    rule = make_early_stopping(es.name, spec.objectives, spec.conditions, min_epochs=es.min_epochs,
                               eta=es.eta, min_trials_per_rung=es.min_trials_per_rung)
    return Hook(rule, len(spec.objectives))


@dataclass
class RunSummary:
    study_name: str
    finished: int
    failed_this_run: int
    seconds: float
    stopped_by: str  # "budget" | "timeout" | "failures"
    epochs: int = 0  # study-wide training epochs spent (see ``epochs_spent``)


def run_study(study: Any, spec: StudySpec, *, data: Any = None, device: str | None = None,
              trainer: Trainer = train, events: Events | None = None,
              on_trial_end: Callable[[Any, Any], None] | None = None, storage_url: str | None = None,
              graceful: bool = False, notice: Callable[[str], None] = lambda _: None) -> RunSummary:
    """Run trials until the study holds ``spec.budget.n_trials`` finished ones, or has spent
    ``spec.budget.max_epochs`` training epochs (or timeout). Trials stop early by the spec's
    ``early_stopping`` rule.

    Any number of these may run on one study at once (``search/runtime/loop.py``); ``storage_url`` picks
    the crash check that fits the storage. Raises ``Interrupted`` on SIGINT/SIGTERM.
    """
    from scalesearch.search.runtime.device import resolve_device, set_threads, use_device
    from scalesearch.search.runtime.device_share import shared_trainer
    from scalesearch.search.runtime.faults import storage_errors
    from scalesearch.search.runtime.loop import work

    device = device or resolve_device(spec.device)
    set_threads(spec.threads)  # on a GPU too: packed workers must not each take every core
    use_device(device)
    if data is None:
        with storage_errors(storage_url or ""):  # the first worker records the split in the study
            data = load_data(spec.dataset, None, device, study=study)  # the data's own size unless set
    hook = early_stopping_hook(spec)
    objective = Objective(spec, data, device, trainer=shared_trainer(trainer), events=events,
                          on_epoch=hook.on_epoch, before_training=hook.before_training)
    started = time.monotonic()
    result = work(study, spec, objective, storage_url=storage_url, device=device, graceful=graceful,
                  callbacks=[on_trial_end] if on_trial_end else [], notice=notice)
    return RunSummary(study.study_name, result.finished, result.failed, time.monotonic() - started, result.stopped_by,
                      epochs_spent(study))
