"""``run`` and ``worker``: start, resume or join a study."""

from __future__ import annotations

import argparse
from typing import Any

from scalesearch.cli import common


def workers_arg(text: str) -> int | str:
    """``--workers``: a count, or ``auto``."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None


def cmd_run(args: argparse.Namespace) -> int:
    from scalesearch.search.study.launch import execute, open_run, print_outcome

    console = common.console()
    launch = open_run(args.spec, console=console, storage=args.storage, study_name=args.study_name,
                      n_trials=args.n_trials, timeout=args.timeout, overrides=args.set, workers=args.workers,
                      devices=args.devices, graceful=args.graceful, warm_start=args.warm_start,
                      allow_changed_family=args.allow_changed_family)
    try:
        outcome = execute(launch, console)
    except KeyboardInterrupt as e:
        return common.interrupted(e, launch.url, launch.spec.study_name)
    print_outcome(console, outcome)
    return 0 if outcome.stopped_by != "failures" else 1


def cmd_worker(args: argparse.Namespace) -> int:
    from scalesearch.search.results.refresh import Refresh, both
    from scalesearch.search.runtime.preflight import preflight
    from scalesearch.search.runtime.workers import prepare_worker
    from scalesearch.search.storage.storage import resolve_url
    from scalesearch.search.study.family_code import check_family_code
    from scalesearch.search.study.progress import Progress
    from scalesearch.search.study.study import count_finished, open_study, run_study

    common.quiet_trials()
    console = common.console()
    url = resolve_url(args.storage)
    study, spec = open_study(None, url, args.study_name)
    check_family_code(study, spec)  # a plugin family whose code differs on this host is refused
    spec = prepare_worker(study, spec, index=args.index, threads=args.threads, device=args.device,
                          timeout=args.timeout)
    preflight(spec)
    refresh = Refresh(spec, url, warn=lambda m: console.print(f"warning: {m}", markup=False))
    refresh.start(study)  # the study note (search/results/notes.py); figures as trials finish
    try:
        with Progress(spec, console, finished_before=count_finished(study)) as progress:
            summary = run_study(study, spec, events=progress, on_trial_end=both(progress, refresh), storage_url=url,
                                graceful=args.graceful, notice=lambda m: console.print(m, markup=False))
    except KeyboardInterrupt as e:
        refresh.interrupted(study)  # the interrupted trial's note and the study note's counts
        return common.interrupted(e, url, spec.study_name)
    refresh.finish(study)
    if summary.stopped_by == "budget" and spec.measure.final_reeval.top:
        from scalesearch.search.study.launch import ends_study, final_reeval

        if ends_study(study, url):  # once per study, by the process that ends it
            final_reeval(study, spec, console, url)
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
    p.add_argument("--workers", type=workers_arg, default=1, metavar="N",
                   help="worker processes on this host (default 1); threads are split between them "
                        "and, on CUDA machines, GPUs assigned round-robin; 'auto': as many per GPU as "
                        "its free memory holds for the study's measured peak (at most 8; 1 on a CPU)")
    p.add_argument("--devices", metavar="LIST", help="devices for the workers, round-robin, e.g. cuda:0,cuda:1")
    p.add_argument("--allow-changed-family", action="store_true",
                   help="resume although a plugin family's code (its builder or the model it builds) changed since the study started "
                        "(recorded in the study; refused otherwise)")
    p.add_argument("--warm-start", action="append", default=[], metavar="STUDY",
                   help="start a new study from an earlier one (repeatable): its useful Pareto-optimal "
                        "configurations run first and the sampler learns from its trials, which this study "
                        "does not count; STUDY in this storage, or STORAGE_URL#STUDY")
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
