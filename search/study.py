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
from scalesearch.search import attrs
from scalesearch.search.compress import CompressionError, uncompressed_params
from scalesearch.search.objective import Events, ModelBuildError, Objective, constraints_func
from scalesearch.search.samplers import make_sampler
from scalesearch.search.spec import (
    DatasetSpec,
    StudySpec,
    apply_overrides,
    spec_from_data,
    spec_to_data,
)
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


def _with_budget(spec: StudySpec, budget: dict[str, Any]) -> StudySpec:
    return dataclasses.replace(spec, budget=dataclasses.replace(spec.budget, **budget))


def open_study(spec: StudySpec | None, storage_url: str | None, study_name: str | None = None, *,
               budget: dict[str, Any] | None = None, overrides: Sequence[str] = ()) -> tuple[Any, StudySpec]:
    """Create the study, or resume it.

    ``spec`` None means "use the spec stored with ``study_name``" (with ``overrides`` applied to
    it, as ``--set`` does to a file). A spec that differs from the stored one (other than its
    budget) is refused with the differing keys.
    """
    import optuna

    if spec is not None and budget:
        spec = _with_budget(spec, budget)  # a new study stores the budget it was started with
    storage = open_storage(storage_url)
    name = study_name or (spec.study_name if spec else None)
    if name is None:
        raise SpecError("run: give a spec file or --study-name of an existing study")
    exists = name in {s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    if exists:
        study = load_study(storage, name)
        stored = stored_spec(study)
        if spec is None and overrides:
            spec = spec_from_data(apply_overrides(spec_to_data(stored), overrides))
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
        seed_families(study, spec)
    if budget:
        spec = _with_budget(spec, budget)
    study.sampler = make_sampler(spec.sampler.name, spec.sampler.seed, constraints_func(spec), spec.budget.n_trials)
    return study, spec


def seed_families(study: Any, spec: StudySpec) -> None:
    """Start a new multi-family study with one trial per family (other knobs sampled as usual),
    so every family in the space is measured at least once even when the sampler, early on,
    would favour a few. When the space searches compression, these trials are uncompressed
    (and a single-family study gets one too): each family's baseline for its compressed
    variants. Skipped when the budget is smaller than the number of families."""
    families = list(spec.space.families)
    baseline = uncompressed_params(spec.space.compression)
    if (len(families) > 1 or baseline) and len(families) <= spec.budget.n_trials:
        for family in families:
            study.enqueue_trial({"family": family} | baseline, skip_if_exists=True)


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


@dataclass
class RunSummary:
    study_name: str
    finished: int
    failed_this_run: int
    seconds: float
    stopped_by: str  # "budget" | "timeout" | "failures"


class _BudgetCallback:
    """Stops ``optimize`` once the study-wide budget is met, or after repeated failures."""

    def __init__(self, n_trials: int, max_consecutive_failures: int):
        self.n_trials, self.max_failures = n_trials, max_consecutive_failures
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
        if count_finished(study) >= self.n_trials:
            self.stopped_by = "budget"
            study.stop()
        elif self.consecutive_failures >= self.max_failures:
            self.stopped_by = "failures"
            study.stop()


def run_study(study: Any, spec: StudySpec, *, data: Any = None, device: str | None = None,
              trainer: Trainer = train, events: Events | None = None,
              on_trial_end: Callable[[Any, Any], None] | None = None) -> RunSummary:
    """Run trials until the study holds ``spec.budget.n_trials`` finished ones (or timeout)."""

    from scalesearch.search.device import resolve_device, set_threads

    device = device or resolve_device(spec.device)
    if device == "cpu":
        set_threads(spec.threads)
    if data is None:
        data = load_data(spec.dataset, None, device, study=study)  # the data's own size unless set
    objective = Objective(spec, data, device, trainer=trainer, events=events)
    started = time.monotonic()
    budget = _BudgetCallback(spec.budget.n_trials, max_consecutive_failures=max(3, spec.budget.n_trials // 4))
    callbacks: list[Any] = [budget] + ([on_trial_end] if on_trial_end else [])
    remaining = spec.budget.n_trials - count_finished(study)
    if remaining > 0:
        study.optimize(objective, timeout=spec.budget.timeout, callbacks=callbacks,
                       catch=(ModelBuildError, CompressionError), gc_after_trial=False, show_progress_bar=False)
    stopped_by = budget.stopped_by or ("timeout" if remaining > 0 else "budget")
    return RunSummary(study.study_name, count_finished(study), budget.failed, time.monotonic() - started, stopped_by)
