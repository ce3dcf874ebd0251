"""Start or resume a study and run it to its budget: what ``scalesearch run`` and
``scalesearch.run()`` share.

:func:`open_run` checks everything (spec, overrides, budget, devices, data) before it writes
anything, then creates or resumes the study and says where it stands; :func:`execute` runs it
in this process (live progress) or in worker processes; :func:`print_outcome` shows the front
and why it stopped. Output goes to a ``rich`` console, which also renders in Jupyter.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalesearch.errors import SpecError
from scalesearch.search.config.spec import (
    StudySpec,
    apply_overrides,
    load_spec,
    spec_from_data,
    spec_to_data,
)

STOP_REASONS = {"budget": "budget reached", "timeout": "timeout reached",
                "failures": "stopped after repeated failures (see the reasons above)"}


@dataclass(frozen=True)
class Launch:
    """A study opened for running (nothing has run yet)."""

    url: str
    study: Any
    spec: StudySpec
    finished_before: int
    workers: int = 1
    devices: tuple[str, ...] = ()
    graceful: bool = False
    timeout: float | None = None  # this invocation's own timeout, for worker processes


@dataclass(frozen=True)
class RunOutcome:
    study: Any
    spec: StudySpec
    url: str
    finished: int
    stopped_by: str  # "budget" | "timeout" | "failures"
    seconds: float


def quiet_trials() -> None:
    """Our progress lines replace Optuna's per-trial logs (and its per-failure tracebacks);
    experimental-API notices for features we pin are not actionable for users."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def given_spec(spec: str | Path | Mapping[str, Any] | StudySpec | None, overrides: Sequence[str] = (),
               caller: str = "cli") -> StudySpec:
    """A spec from a YAML path (None: ``studies/digits.yaml``), plain data or a ``StudySpec``,
    with ``key.path=value`` overrides applied and validated."""
    if spec is None or isinstance(spec, str | Path):
        return load_spec(spec, overrides, caller)
    if isinstance(spec, StudySpec):
        return spec_from_data(apply_overrides(spec_to_data(spec), overrides, caller)) if overrides else spec
    if isinstance(spec, Mapping):
        import copy

        return spec_from_data(apply_overrides(copy.deepcopy(dict(spec)), overrides, caller))
    raise SpecError(f"spec: expected a path to a spec YAML, a dict or a StudySpec, got {type(spec).__name__}")


def with_data(spec: StudySpec, fields: dict[str, Any]) -> StudySpec:
    """``spec`` reading its data from Python (``python_data.register``'s fields); the split
    settings, augmentation and input size of its ``dataset`` section stay."""
    if spec.dataset.kind not in ("digits", "python") or spec.dataset.root:
        raise SpecError(f"data: the spec already names its data (dataset.kind {spec.dataset.kind}); "
                        "drop data= or the spec's dataset source")
    changes = {k: v for k, v in fields.items() if v is not None or k == "root"}
    changes.setdefault("input_size", spec.dataset.input_size)
    return dataclasses.replace(spec, dataset=dataclasses.replace(spec.dataset, **changes))


def stored_or_none(url: str, name: str) -> StudySpec | None:
    """The spec stored with study ``name``, or None when the storage or the study does not exist."""
    from scalesearch.search.study.study import existing_study, stored_spec

    study = existing_study(url, name)
    return stored_spec(study) if study is not None else None


def open_run(spec: str | Path | Mapping[str, Any] | StudySpec | None = None, *, console: Any,
             storage: str | None = None, study_name: str | None = None, n_trials: int | None = None,
             timeout: float | None = None, overrides: Sequence[str] = (), workers: int | str = 1,
             devices: str | None = None, graceful: bool = False, data: Any = None,
             caller: str = "cli", warm_start: Sequence[str] = (), allow_changed_family: bool = False) -> Launch:
    """Check, then create or resume the study; print one line saying where it stands.

    ``spec`` None with ``study_name`` resumes the spec stored with that study (``overrides``
    apply to it); otherwise the given spec must match the stored one, apart from its budget (a
    study that never ran a trial takes the new spec instead). ``data`` (see
    ``search/datasets/python_data.py``) replaces the spec's dataset source. Everything that can
    be checked (spec, devices, the data readable with at least 2 classes, own families
    building) is checked before the storage is written to: a mistake leaves it as it was.
    ``caller`` (``cli`` or ``python``) words the advice of errors. A resume whose own family's
    builder changed is refused unless ``allow_changed_family`` (``search/study/family_code.py``).
    ``workers="auto"``: 1 on a CPU, on GPUs as many as their free memory holds
    (``search/runtime/packing.py``'s ``auto_workers``; 1 where several cannot run).
    """
    from scalesearch.search.datasets.python_data import register
    from scalesearch.search.runtime.preflight import parse_devices, preflight
    from scalesearch.search.storage.storage import redact, resolve_url
    from scalesearch.search.study.family_code import check_family_code, record_family_code
    from scalesearch.search.study.study import apply_plan, count_finished, plan_study, with_budget
    from scalesearch.search.study.warm_start import begin, for_launch

    quiet_trials()
    url = resolve_url(storage)
    budget = {k: v for k, v in (("n_trials", n_trials), ("timeout", timeout)) if v is not None}
    device_list = parse_devices(devices)
    fields = register(data) if data is not None else None
    stored = stored_or_none(url, study_name) if spec is None and study_name else None
    given = given_spec(spec, overrides, caller) if stored is None else None
    if fields is not None and stored is not None:  # resume with data: it must be the stored data
        given = with_data(spec_from_data(apply_overrides(spec_to_data(stored), overrides, caller)), fields)
    elif fields is not None:
        given = with_data(given, fields)
    # Everything is checked before the study is created or its budget changed.
    planned = given or (spec_from_data(apply_overrides(spec_to_data(stored), overrides, caller)) if overrides else stored)
    auto, workers = workers == "auto", 1 if workers == "auto" else int(workers)
    preflight(with_budget(planned, budget) if budget else planned, workers, device_list, caller)
    plan = plan_study(given, url, study_name, budget=budget, overrides=overrides if stored and not given else (),
                      caller=caller)
    if plan.action == "resume":
        check_family_code(plan.study, plan.spec, allow=allow_changed_family, caller=caller)
    data = check_data(plan, workers)
    warm = for_launch(warm_start, url, plan)  # search/study/warm_start.py; checked before anything is written
    study, spec = apply_plan(plan, url, warm=warm is not None)  # its queue replaces the startup design
    record_family_code(study, spec, io=data)  # data's shape: where own families' models are fingerprinted
    if warm is not None:
        begin(study, spec, warm, lambda line: console.print(line, markup=False, highlight=False))
    if auto:
        workers = auto_worker_count(study, spec, device_list)
    done = count_finished(study)
    objectives = ", ".join(f"{o} ({d[:3]})" for o, d in zip(spec.objectives, spec.directions, strict=True))
    console.print(f"study [bold]{spec.study_name}[/] in {redact(url)}: {done}/{spec.budget.n_trials} trials finished, "
                  f"objectives {objectives}" + (f", {workers} workers" if workers > 1 else "")
                  + (" (its earlier spec replaced: no trial had run)" if plan.action == "respecify" else ""))
    return Launch(url, study, spec, done, workers, tuple(device_list), graceful, timeout)


def check_data(plan: Any, workers: int = 1) -> Any:
    """Load the study's data as its trials will (a resumed study's recorded split; every image
    decoded, so an unreadable one is found here under ``on_corrupt: fail``), require at least 2
    classes, and build the families that are not built in: one clear error before anything is
    stored, not an empty study left behind. Returns the data (cached for the run)."""
    from scalesearch.errors import DataError
    from scalesearch.search.datasets.recorded import split_record
    from scalesearch.search.study.study import load_data

    spec = plan.spec
    record = split_record(plan.study) if plan.action == "resume" else None
    data = load_data(spec.dataset, None, "cpu", split=record)
    if data.num_classes < 2:
        raise DataError(f"dataset: {data.name} has {data.num_classes} class; a classifier needs at least 2")
    check_own_families(spec, workers, data)
    return data


def auto_worker_count(study: Any, spec: StudySpec, devices: Sequence[str]) -> int:
    """``run --workers auto`` (unmeasured on a real GPU): by free GPU memory and the study's
    per-trial peak (``ss.gpu_peak_mb``); 1 on a CPU, and where several workers cannot run."""
    from scalesearch.search.runtime.device import resolve_device
    from scalesearch.search.runtime.packing import auto_workers, free_gpu_mb, study_peak_mb
    from scalesearch.search.runtime.preflight import preflight

    device = devices[0] if devices else resolve_device(spec.device)
    n = auto_workers(device, free_gpu_mb() if device.startswith("cuda") else [], study_peak_mb(study))
    try:
        preflight(spec, n, devices)
        check_own_families(spec, n)
    except SpecError:
        return 1
    return n


def check_own_families(spec: StudySpec, workers: int = 1, data: Any = None) -> None:
    """Build each family that is not built in once, at the space's lowest point, for the
    study's data, and check its output shape: a broken builder is one clear error before the
    study exists, not a failure in every trial. Worker processes only know built-in and
    installed (plugin) families."""
    from scalesearch.spaces.contract import check_output
    from scalesearch.spaces.registry import BUILT_IN, ModelInput, get_family
    from scalesearch.spaces.space import param_values

    own = [name for name in spec.space.families if get_family(name).origin != BUILT_IN]
    if not own:
        return
    local = [name for name in own if not get_family(name).origin.startswith("plugin ")]
    if workers > 1 and local:
        raise SpecError(f"workers: family {local[0]} is registered in this process only ({get_family(local[0]).origin}); "
                        f"worker processes cannot build it; use workers=1, or install it as a scalesearch.families plugin")
    if data is None:
        from scalesearch.search.datasets import load_dataset

        data = load_dataset(spec.dataset)
    io = ModelInput(data.num_classes, data.in_chans, data.input_size)
    for name in own:
        check_output(name, io, {k: param_values(p)[0] for k, p in spec.space.families[name].items()})


def execute(launch: Launch, console: Any) -> RunOutcome:
    """Run the study to its budget; ``KeyboardInterrupt`` (``Interrupted``) propagates, after the
    running trial is stored as FAIL (interrupted) so a resume reruns it."""
    from scalesearch.search.study.study import count_finished

    started = time.monotonic()
    spec, study = launch.spec, launch.study
    if launch.workers > 1:
        from scalesearch.search.runtime.device import available_cores
        from scalesearch.search.runtime.workers import plan_workers, run_workers

        plans = plan_workers(launch.workers, spec, available_cores(), launch.devices)
        code = run_workers(launch.url, spec.study_name, plans, graceful=launch.graceful, timeout=launch.timeout,
                           out=lambda line: console.print(line, markup=False, highlight=False))
        from scalesearch.search.runtime.budget import stop_reason

        finished = count_finished(study)  # a stop by budget.max_epochs is the budget, not the timeout
        stopped_by = stop_reason(study, spec.budget.n_trials, spec.budget.max_epochs, failed=bool(code))
    else:
        from scalesearch.search.results.refresh import Refresh, both
        from scalesearch.search.study.progress import Progress
        from scalesearch.search.study.study import run_study

        refresh = Refresh(spec, launch.url, warn=lambda m: console.print(f"warning: {m}", markup=False))
        refresh.start(study)  # notes and figures in optuna-dashboard (search/results/refresh.py)
        try:
            with Progress(spec, console, finished_before=launch.finished_before) as progress:
                summary = run_study(study, spec, events=progress, on_trial_end=both(progress, refresh),
                                    storage_url=launch.url, graceful=launch.graceful,
                                    notice=lambda m: console.print(m, markup=False))
        except KeyboardInterrupt:
            refresh.interrupted(study)  # the interrupted trial's note and the study note's counts
            raise
        refresh.finish(study)
        finished, stopped_by = summary.finished, summary.stopped_by
    if stopped_by == "budget" and spec.measure.final_reeval.top and ends_study(study, launch.url):
        final_reeval(study, spec, console, launch.url)  # with --workers N, done by the worker that ended it
    return RunOutcome(study, spec, launch.url, finished, stopped_by, time.monotonic() - started)


FINAL_CLAIM = "ss.final_reeval.by"  # study attr: the process that runs the end-of-study re-evaluation


def ends_study(study: Any, url: str, *, settle: float = 2.0) -> bool:
    """Whether this process, its budget met, is the one that ends the study and so runs
    ``measure.final_reeval``: once per study, whichever of ``run``, ``run --workers N`` and any
    ``scalesearch worker`` finishes last. Not while another trial still runs (its worker ends the
    study later). On one host the check-and-claim of ``ss.final_reeval.by`` is under the ask lock
    (``search/runtime/budget.py``); across hosts two claims written within ``settle`` seconds
    both read back the last one, so exactly one process goes on. A process that dies before the
    end leaves it undone; ``export`` re-evaluates its candidates anyway."""
    from scalesearch.search.runtime.budget import AskLock, snapshot
    from scalesearch.search.runtime.loop import worker_id

    if snapshot(study).running:
        return False
    me, lock = worker_id(), AskLock(url, study.study_name)
    lock.acquire()
    try:
        if study.user_attrs.get(FINAL_CLAIM):
            return False
        study.set_user_attr(FINAL_CLAIM, me)
    finally:
        lock.release()
    time.sleep(settle)
    return study.user_attrs.get(FINAL_CLAIM) == me


def final_reeval(study: Any, spec: StudySpec, console: Any, url: str) -> None:
    """The spec's ``measure.final_reeval``: the top candidates trained with more seeds, stored
    on the study (``ss.stability.<trial>``) for the front table, the dashboard's study note and
    ``export``."""
    from scalesearch.search.results.refresh import Refresh
    from scalesearch.search.results.selection import final_reeval as reevaluate

    wanted = spec.measure.final_reeval
    console.print(f"measure.final_reeval: the top {wanted.top} candidates get {wanted.seeds} more seeds each")
    if reevaluate(study, spec, on_training=lambda trial, seed: console.print(f"  trial {trial}, seed {seed}")):
        Refresh(spec, url, figures=False).start(study)  # the study note names the accuracy over seeds


def print_outcome(console: Any, outcome: RunOutcome) -> None:
    """The Pareto front, how many trials finished and why the run stopped, and what to do next."""
    from scalesearch.search.results.notes import shown_url
    from scalesearch.search.results.tables import front_table

    spec, url = outcome.spec, shown_url(outcome.url)  # absolute, as the note and the report give it
    front = front_table(outcome.study, spec)
    console.print(front if front is not None else "no complete trial yet.")
    console.print(f"{outcome.finished}/{spec.budget.n_trials} trials finished in {outcome.seconds:.0f}s "
                  f"({STOP_REASONS[outcome.stopped_by]}).")
    console.print(f"next: scalesearch dashboard --storage {url}   |   "
                  f"scalesearch export --storage {url} --study-name {spec.study_name} -o best.yaml")
