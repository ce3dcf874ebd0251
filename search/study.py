"""Create, resume and run a study: the spec is stored with the study, the budget is study-wide.

``run_study`` is what ``scalesearch run`` calls. ``n_trials`` counts finished trials
(COMPLETE + PRUNED) over the study's whole life, so re-running an interrupted study finishes
the remainder instead of starting over.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scalesearch.errors import SpecError, StorageError
from scalesearch.search import attrs
from scalesearch.search.early_stopping import Hook, make_early_stopping
from scalesearch.search.objective import Events, ModelBuildError, Objective, constraints_func
from scalesearch.search.samplers import make_sampler
from scalesearch.search.spec import DatasetSpec, StudySpec, spec_from_data, spec_to_data
from scalesearch.search.storage import open_storage, redact, resolve_url
from scalesearch.search.train import Trainer, train

#: Spec sections that may differ when resuming (they say how long to run, not what to run).
RESUMABLE_KEYS = ("budget",)
FINISHED = ("COMPLETE", "PRUNED")


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
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        names = sorted(s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False))
        hint = f"studies here: {', '.join(names)}" if names else "this storage holds no study yet"
        raise StorageError(f"study {study_name!r} not found; {hint}") from None


def stored_spec(study: Any) -> StudySpec:
    data = study.user_attrs.get(attrs.SPEC)
    if data is None:
        raise StorageError(f"study {study.study_name!r} was not created by scalesearch (it has no stored spec)")
    return spec_from_data(data)


def open_study(spec: StudySpec | None, storage_url: str | None, study_name: str | None = None, *,
               budget: dict[str, Any] | None = None) -> tuple[Any, StudySpec]:
    """Create the study, or resume it.

    ``spec`` None means "use the spec stored with ``study_name``". A given spec that differs from
    the stored one (other than its budget) is refused with the differing keys.
    """
    import optuna

    storage = open_storage(storage_url)
    name = study_name or (spec.study_name if spec else None)
    if name is None:
        raise SpecError("run: give a spec file or --study-name of an existing study")
    exists = name in {s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    if exists:
        study = load_study(storage, name)
        stored = stored_spec(study)
        if spec is not None:
            given = dataclasses.replace(spec, study_name=name)
            diffs = spec_conflicts(spec_to_data(stored), spec_to_data(given))
            if diffs:
                shown = ", ".join(diffs[:4]) + (" ..." if len(diffs) > 4 else "")
                raise SpecError(
                    f"study {name!r} already exists with a different spec ({shown}); "
                    f"resume it with --study-name {name} and no spec file, or pick a new --study-name"
                )
            spec = dataclasses.replace(stored, budget=given.budget)
        else:
            spec = stored
    else:
        if spec is None:
            raise StorageError(f"study {name!r} not found in {redact(resolve_url(storage_url))}; "
                               "give a spec file to create it")
        spec = dataclasses.replace(spec, study_name=name)
        study = optuna.create_study(storage=storage, study_name=name, directions=spec.directions,
                                    load_if_exists=True)
        study.set_metric_names(list(spec.objectives))
        study.set_user_attr(attrs.SPEC, spec_to_data(spec))
        study.set_user_attr(attrs.VERSIONS, versions())
    if budget:
        spec = dataclasses.replace(spec, budget=dataclasses.replace(spec.budget, **budget))
    study.sampler = make_sampler(spec.sampler.name, spec.sampler.seed, constraints_func(spec), spec.budget.n_trials)
    return study, spec


def count_finished(study: Any) -> int:
    import optuna

    states = tuple(getattr(optuna.trial.TrialState, s) for s in FINISHED)
    return len(study.get_trials(deepcopy=False, states=states))


def load_data(dataset: DatasetSpec, default_input_size: int | None, device: str) -> Any:
    """The spec's dataset at the space's input size (unless the spec sets one), on ``device``
    when that is a GPU (digits-sized data then lives there for the whole study)."""
    from scalesearch.search.data import load_dataset

    kwargs = dataclasses.asdict(dataset)
    kwargs["input_size"] = dataset.input_size or default_input_size
    data = load_dataset(**kwargs)
    return data.to(device) if device.startswith("cuda") else data


def epochs_spent(study: Any) -> int:
    """Training epochs spent by every trial so far (``ss.epochs_run``; pruned trials included)."""
    key = attrs.metric_key("epochs_run")
    return sum(int(t.user_attrs.get(key, 0)) for t in study.get_trials(deepcopy=False))


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


class _BudgetCallback:
    """Stops ``optimize`` once the study-wide budget is met, or after repeated failures."""

    def __init__(self, n_trials: int, max_consecutive_failures: int, max_epochs: int | None = None):
        self.n_trials, self.max_failures, self.max_epochs = n_trials, max_consecutive_failures, max_epochs
        self.consecutive_failures = 0
        self.failed = 0
        self.stopped_by = ""

    def __call__(self, study: Any, trial: Any) -> None:
        import optuna

        if trial.state == optuna.trial.TrialState.FAIL:
            self.failed += 1
            self.consecutive_failures += 1
        else:
            self.consecutive_failures = 0
        if self.exhausted(study):
            self.stopped_by = "budget"
            study.stop()
        elif self.consecutive_failures >= self.max_failures:
            self.stopped_by = "failures"
            study.stop()

    def exhausted(self, study: Any) -> bool:
        """The study holds ``n_trials`` finished trials, or has spent ``max_epochs`` epochs."""
        if count_finished(study) >= self.n_trials:
            return True
        return self.max_epochs is not None and epochs_spent(study) >= self.max_epochs


def run_study(study: Any, spec: StudySpec, *, data: Any = None, device: str | None = None,
              trainer: Trainer = train, events: Events | None = None,
              on_trial_end: Callable[[Any, Any], None] | None = None) -> RunSummary:
    """Run trials until the study holds ``spec.budget.n_trials`` finished ones, or has spent
    ``spec.budget.max_epochs`` training epochs (or timeout). Trials stop early by the spec's
    ``early_stopping`` rule."""

    from scalesearch.search.device import resolve_device, set_threads

    device = device or resolve_device(spec.device)
    if device == "cpu":
        set_threads(spec.threads)
    if data is None:
        data = load_data(spec.dataset, spec.space.input_size, device)
    hook = early_stopping_hook(spec)
    objective = Objective(spec, data, device, trainer=trainer, events=events,
                          on_epoch=hook.on_epoch, before_training=hook.before_training)
    started = time.monotonic()
    budget = _BudgetCallback(spec.budget.n_trials, max_consecutive_failures=max(3, spec.budget.n_trials // 4),
                             max_epochs=spec.budget.max_epochs)
    callbacks: list[Any] = [budget] + ([on_trial_end] if on_trial_end else [])
    to_run = not budget.exhausted(study)
    if to_run:
        study.optimize(objective, timeout=spec.budget.timeout, callbacks=callbacks,
                       catch=(ModelBuildError,), gc_after_trial=False, show_progress_bar=False)
    stopped_by = budget.stopped_by or ("timeout" if to_run else "budget")
    return RunSummary(study.study_name, count_finished(study), budget.failed, time.monotonic() - started,
                      stopped_by, epochs_spent(study))
