"""``run`` and ``worker``: start, resume or join a study."""

from __future__ import annotations

import argparse
import time
from typing import Any

from scalesearch.cli import common


def cmd_run(args: argparse.Namespace) -> int:
    from scalesearch.search.config.spec import (
        apply_overrides,
        load_spec,
        spec_from_data,
        spec_to_data,
    )
    from scalesearch.search.runtime.preflight import parse_devices, preflight
    from scalesearch.search.storage.storage import redact, resolve_url
    from scalesearch.search.study.study import count_finished, open_study, with_budget

    common.quiet_trials()
    console = common.console()
    url = resolve_url(args.storage)
    budget = {k: v for k, v in (("n_trials", args.n_trials), ("timeout", args.timeout)) if v is not None}
    devices = parse_devices(args.devices)
    stored = _stored_spec(url, args.study_name) if args.spec is None and args.study_name else None
    given = load_spec(args.spec, args.set) if stored is None else None
    # Everything is checked before the study is created or its budget changed.
    planned = given or (spec_from_data(apply_overrides(spec_to_data(stored), args.set)) if args.set else stored)
    preflight(with_budget(planned, budget) if budget else planned, args.workers, devices)
    study, spec = open_study(given, url, args.study_name, budget=budget, overrides=args.set if stored else ())
    done = count_finished(study)
    console.print(f"study [bold]{spec.study_name}[/] in {redact(url)}: {done}/{spec.budget.n_trials} trials finished, "
                  f"objectives {', '.join(f'{o} ({d[:3]})' for o, d in zip(spec.objectives, spec.directions, strict=True))}"
                  + (f", {args.workers} workers" if args.workers > 1 else ""))
    started = time.monotonic()
    try:
        if args.workers > 1:
            code = _run_workers(console, url, spec, args, devices)
            finished = count_finished(study)
            stopped_by = "budget" if finished >= spec.budget.n_trials else ("failures" if code else "timeout")
        else:
            from scalesearch.search.study.progress import Progress
            from scalesearch.search.study.study import run_study

            with Progress(spec, console, finished_before=done) as progress:
                summary = run_study(study, spec, events=progress, on_trial_end=progress, storage_url=url,
                                    graceful=args.graceful, notice=lambda m: console.print(m, markup=False))
            finished, stopped_by = summary.finished, summary.stopped_by
    except KeyboardInterrupt as e:
        return common.interrupted(e, url, spec.study_name)
    _print_front(console, study, spec)
    reason = {"budget": "budget reached", "timeout": "timeout reached",
              "failures": "stopped after repeated failures (see the reasons above)"}[stopped_by]
    console.print(f"{finished}/{spec.budget.n_trials} trials finished in {time.monotonic() - started:.0f}s ({reason}).")
    console.print(f"next: scalesearch dashboard --storage {redact(url)}   |   "
                  f"scalesearch export --storage {redact(url)} --study-name {spec.study_name} -o best.yaml")
    return 0 if stopped_by != "failures" else 1


def _run_workers(console: Any, url: str, spec: Any, args: argparse.Namespace, devices: list[str]) -> int:
    from scalesearch.search.runtime.device import available_cores
    from scalesearch.search.runtime.workers import plan_workers, run_workers

    plans = plan_workers(args.workers, spec, available_cores(), devices)
    return run_workers(url, spec.study_name, plans, graceful=args.graceful, timeout=args.timeout,
                       out=lambda line: console.print(line, markup=False, highlight=False))


def _stored_spec(url: str, name: str) -> Any:
    """The spec stored with study ``name``, or None when the storage or the study does not exist."""
    import optuna

    from scalesearch.errors import StorageError
    from scalesearch.search.storage.storage import open_storage
    from scalesearch.search.study.study import load_study, stored_spec

    try:
        storage = open_storage(url, create=False)
    except StorageError as e:
        if "does not exist" in str(e):
            return None
        raise
    if name not in {s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}:
        return None
    return stored_spec(load_study(storage, name))


def _print_front(console: Any, study: Any, spec: Any) -> None:
    from scalesearch.search.results.report import complete_trials, pareto_trials, trial_row

    front = pareto_trials(complete_trials(study), spec)
    if not front:
        console.print("no complete trial yet.")
        return
    keep = ("trial", "family", "width", "depth", "accuracy", "params", "latency_ms", *spec.objectives,
            *(("compression",) if spec.space.compression else ()))
    rows = [{k: v for k, v in trial_row(t).items() if k in keep} for t in front]
    console.print(common.table(rows, f"Pareto front of {spec.study_name} ({len(front)} trials)"))


def cmd_worker(args: argparse.Namespace) -> int:
    from scalesearch.search.runtime.preflight import preflight
    from scalesearch.search.runtime.workers import prepare_worker
    from scalesearch.search.storage.storage import resolve_url
    from scalesearch.search.study.progress import Progress
    from scalesearch.search.study.study import count_finished, open_study, run_study

    common.quiet_trials()
    console = common.console()
    url = resolve_url(args.storage)
    study, spec = open_study(None, url, args.study_name)
    spec = prepare_worker(study, spec, index=args.index, threads=args.threads, device=args.device,
                          timeout=args.timeout)
    preflight(spec)
    try:
        with Progress(spec, console, finished_before=count_finished(study)) as progress:
            summary = run_study(study, spec, events=progress, on_trial_end=progress, storage_url=url,
                                graceful=args.graceful, notice=lambda m: console.print(m, markup=False))
    except KeyboardInterrupt as e:
        return common.interrupted(e, url, spec.study_name)
    reason = {"budget": "budget reached", "timeout": "timeout reached",
              "failures": "stopped after repeated failures"}[summary.stopped_by]
    console.print(f"worker done: study has {summary.finished}/{spec.budget.n_trials} trials finished ({reason}).")
    return 0 if summary.stopped_by != "failures" else 1


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("run", help="run (or resume) a study from a spec file",
                       description="Run a study; re-running the same study resumes it up to its budget.")
    p.add_argument("spec", nargs="?", help="study spec YAML (default: studies/digits.yaml)")
    common.add_storage(p)
    p.add_argument("--study-name", help="study to create or resume (default: the spec's study_name)")
    p.add_argument("--n-trials", type=int, help="study-wide budget of finished trials (stored with the study)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec field, e.g. --set budget.n_trials=10 (repeatable)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes on this host (default 1); threads are split between them "
                        "and, on CUDA machines, GPUs assigned round-robin")
    p.add_argument("--devices", metavar="LIST", help="devices for the workers, round-robin, e.g. cuda:0,cuda:1")
    common.add_stopping(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("worker", help="join an existing study as one more worker (spec read from the study)",
                       description="Join a study from any host: run its trials until its study-wide budget "
                                   "is met. Start as many as you like; see docs/workers.md.")
    common.add_storage(p)
    p.add_argument("--study-name", required=True)
    p.add_argument("--index", type=int, metavar="I",
                   help="worker number: seeds the sampler with seed+I and picks GPU I mod #GPUs "
                        "(default: a fresh random seed)")
    p.add_argument("--threads", type=int, help="CPU threads for this worker (default: the spec's, else all cores)")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: the spec's device)")
    common.add_stopping(p)
    p.set_defaults(func=cmd_worker)
