"""``scalesearch``: a thin shell. Parse flags, call the library, print, exit.

Domain errors (``ScalesearchError``) become one ``error: ...`` line and exit code 2.
Heavy modules (torch, timm, optuna) are imported inside commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from scalesearch import __version__
from scalesearch.errors import ScalesearchError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def _console() -> Any:
    from rich.console import Console

    # Logs and pipes get wide tables instead of rich's 80-column default.
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def _quiet_optuna() -> None:
    """Our own progress replaces Optuna's per-trial log lines; experimental-API notices for
    features we pin (heartbeats, metric names, grouped TPE) are not actionable for users."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def _quiet_trials() -> None:
    """Runs report each failed trial once, with its stored reason, on our own progress line;
    Optuna's per-failure warning (with a traceback) would repeat it."""
    import optuna

    _quiet_optuna()
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def _table(rows: list[dict[str, Any]], title: str, formats: dict[str, Callable[[Any], str]] | None = None) -> Any:
    from rich.table import Table

    from scalesearch.search.report import fmt

    table = Table(title=title, title_justify="left")
    for key in rows[0] if rows else []:
        table.add_column(key, justify="left" if key in ("family", "study", "objectives", "compression") else "right")
    for row in rows:
        table.add_row(*((formats or {}).get(k, lambda v, k=k: fmt(v, k))(v) for k, v in row.items()))
    return table


# --------------------------------------------------------------------------- commands


def cmd_run(args: argparse.Namespace) -> int:
    from scalesearch.search.preflight import parse_devices, preflight
    from scalesearch.search.spec import apply_overrides, load_spec, spec_from_data, spec_to_data
    from scalesearch.search.storage import redact, resolve_url
    from scalesearch.search.study import count_finished, open_study, with_budget

    _quiet_trials()
    console = _console()
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
            from scalesearch.search.progress import Progress
            from scalesearch.search.study import run_study

            with Progress(spec, console, finished_before=done) as progress:
                summary = run_study(study, spec, events=progress, on_trial_end=progress, storage_url=url,
                                    graceful=args.graceful, notice=lambda m: console.print(m, markup=False))
            finished, stopped_by = summary.finished, summary.stopped_by
    except KeyboardInterrupt as e:
        return _interrupted(e, url, spec.study_name)
    _print_front(console, study, spec)
    reason = {"budget": "budget reached", "timeout": "timeout reached",
              "failures": "stopped after repeated failures (see the reasons above)"}[stopped_by]
    console.print(f"{finished}/{spec.budget.n_trials} trials finished in {time.monotonic() - started:.0f}s ({reason}).")
    console.print(f"next: scalesearch dashboard --storage {redact(url)}   |   "
                  f"scalesearch export --storage {redact(url)} --study-name {spec.study_name} -o best.yaml")
    return 0 if stopped_by != "failures" else 1


def _run_workers(console: Any, url: str, spec: Any, args: argparse.Namespace, devices: list[str]) -> int:
    from scalesearch.search.device import available_cores
    from scalesearch.search.workers import plan_workers, run_workers

    plans = plan_workers(args.workers, spec, available_cores(), devices)
    return run_workers(url, spec.study_name, plans, graceful=args.graceful, timeout=args.timeout,
                       out=lambda line: console.print(line, markup=False, highlight=False))


def _interrupted(error: BaseException, url: str, study_name: str) -> int:
    from scalesearch.search.storage import redact

    what = str(error) or "interrupted"
    print(f"{what}\nresume with: scalesearch run --storage {redact(url)} --study-name {study_name}", file=sys.stderr)
    return EXIT_INTERRUPTED


def _stored_spec(url: str, name: str) -> Any:
    """The spec stored with study ``name``, or None when the storage or the study does not exist."""
    import optuna

    from scalesearch.errors import StorageError
    from scalesearch.search.storage import open_storage
    from scalesearch.search.study import load_study, stored_spec

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
    from scalesearch.search.report import complete_trials, pareto_trials, trial_row

    front = pareto_trials(complete_trials(study), spec)
    if not front:
        console.print("no complete trial yet.")
        return
    keep = ("trial", "family", "width", "depth", "accuracy", "params", "latency_ms", *spec.objectives,
            *(("compression",) if spec.space.compression else ()))
    rows = [{k: v for k, v in trial_row(t).items() if k in keep} for t in front]
    console.print(_table(rows, f"Pareto front of {spec.study_name} ({len(front)} trials)"))


def cmd_worker(args: argparse.Namespace) -> int:
    from scalesearch.search.preflight import preflight
    from scalesearch.search.progress import Progress
    from scalesearch.search.storage import resolve_url
    from scalesearch.search.study import count_finished, open_study, run_study
    from scalesearch.search.workers import prepare_worker

    _quiet_trials()
    console = _console()
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
        return _interrupted(e, url, spec.study_name)
    reason = {"budget": "budget reached", "timeout": "timeout reached",
              "failures": "stopped after repeated failures"}[summary.stopped_by]
    console.print(f"worker done: study has {summary.finished}/{spec.budget.n_trials} trials finished ({reason}).")
    return 0 if summary.stopped_by != "failures" else 1


def cmd_dashboard(args: argparse.Namespace) -> int:
    from scalesearch.search.dashboard import serve
    from scalesearch.search.storage import redact, resolve_url

    _quiet_optuna()
    url = resolve_url(args.storage)
    serve(url, args.host, args.port,
          announce=lambda addr: print(f"optuna-dashboard for {redact(url)} at {addr}  (Ctrl-C to stop)", flush=True))
    return 0


def _pick_study_name(storage: Any, name: str | None) -> str:
    import optuna

    if name:
        return name
    names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    if len(names) == 1:
        return names[0]
    listing = ", ".join(sorted(names)) if names else "none"
    raise ScalesearchError(f"--study-name is needed: this storage holds {len(names)} studies ({listing})")


def cmd_export(args: argparse.Namespace) -> int:
    from scalesearch.search.export import export_data, select_trial, write_yaml
    from scalesearch.search.storage import open_storage, resolve_url
    from scalesearch.search.study import load_study, stored_spec

    _quiet_optuna()
    url = resolve_url(args.storage)
    storage = open_storage(url, create=False)
    study = load_study(storage, _pick_study_name(storage, args.study_name))
    spec = stored_spec(study)
    trial = select_trial(study, spec, args.pick, args.where)
    data = export_data(study, spec, trial, storage_url=url, pick=args.pick, where=args.where)
    path = write_yaml(data, args.output)
    shown = ", ".join(f"{k}={v:.4g}" for k, v in data["metrics"].items() if k in spec.objectives)
    print(f"exported trial {trial.number} ({data['family']}; {shown}) to {path}")
    print(f"next: scalesearch train {path} -o model/")
    return 0


def cmd_export_model(args: argparse.Namespace) -> int:
    from scalesearch.search.reproduce import export_trial
    from scalesearch.search.storage import open_storage, resolve_url
    from scalesearch.search.study import load_study

    _quiet_optuna()
    storage = open_storage(resolve_url(args.storage), create=False)
    study = load_study(storage, _pick_study_name(storage, args.study_name))
    path = export_trial(study, args.trial, args.output, device=args.device)
    print(f"re-ran trial {args.trial} of {study.study_name} and saved its deployed model to {path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from scalesearch.search.retrain import read_export, retrain

    export = read_export(args.export)
    epochs = args.epochs or export["training"]["epochs"]
    console = _console()

    def on_epoch(report: Any) -> None:
        console.print(f"epoch {report.epoch}/{epochs}  loss {report.train_loss:.3f}  test acc {report.val_accuracy:.4f}")

    result = retrain(export, args.output, device=args.device, threads=args.threads, epochs=args.epochs,
                     on_epoch=on_epoch)
    console.print(f"test accuracy {result.test_accuracy:.4f} after {result.train_seconds:.1f}s of training; "
                  f"saved {result.out_dir}/model.safetensors and model.yaml")
    return 0


def cmd_stability(args: argparse.Namespace) -> int:
    from scalesearch.search.stability import measure_stability, stored_stability
    from scalesearch.search.storage import open_storage, resolve_url
    from scalesearch.search.study import load_study, stored_spec

    _quiet_optuna()
    storage = open_storage(resolve_url(args.storage), create=False)
    study = load_study(storage, _pick_study_name(storage, args.study_name))
    spec = stored_spec(study)
    measure_stability(study, spec, runs=args.runs, device=args.device, remeasure=args.remeasure)
    rows = [{"trial": n, "accuracy_mean": r["accuracy_mean"], "accuracy_std": r["accuracy_std"],
             "runs": len(r["accuracies"])} for n, r in sorted(stored_stability(study).items())]
    _console().print(_table(rows, f"Stability of the Pareto front of {study.study_name} (accuracy over seeds)",
                            {"accuracy_mean": "{:.4f}".format, "accuracy_std": "{:.4f}".format}))
    return 0


def cmd_studies(args: argparse.Namespace) -> int:
    from scalesearch.search.report import study_rows
    from scalesearch.search.storage import open_storage, redact, resolve_url

    _quiet_optuna()
    url = resolve_url(args.storage)
    rows = study_rows(open_storage(url, create=False))
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(f"no studies in {redact(url)}; start one with: scalesearch run")
    else:
        _console().print(_table(rows, f"Studies in {redact(url)}", {k: str for k in rows[0]}))
    return 0


def cmd_spaces(args: argparse.Namespace) -> int:
    from scalesearch.spaces.catalog import describe_families, describe_presets
    from scalesearch.spaces.registry import get_family, list_families

    if args.json:
        families = describe_families(args.input_size, args.num_classes, args.in_chans)
        print(json.dumps({"families": families, "presets": describe_presets()}, indent=2))
        return 0
    print("families:")
    for name in list_families():
        print(f"  {name:14s} {get_family(name).description}")
    print("presets (use with --set space=NAME):")
    for p in describe_presets():
        print(f"  {p['name']:14s} made for {p['input_size']}px; {', '.join(p['families'])}. {p['description']}")
    return 0


# --------------------------------------------------------------------------- parser


class _Parser(argparse.ArgumentParser):
    """Usage mistakes get one line and exit code 2, like every other user error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="scalesearch",
        description="Find the image-classification model that fits your budget: a multi-objective "
                    "Optuna search over model scale, compression and training.",
    )
    parser.add_argument("--version", action="version", version=f"scalesearch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def storage(p: argparse.ArgumentParser) -> None:
        p.add_argument("--storage", metavar="URL",
                       help="sqlite:///file.db (default sqlite:///scalesearch.db, or $SCALESEARCH_STORAGE), "
                            "journal:///file.log or postgresql://user@host/db")

    def stopping(p: argparse.ArgumentParser) -> None:
        p.add_argument("--graceful", action="store_true",
                       help="on Ctrl-C/SIGTERM finish the running trial, then stop (again: stop now); "
                            "default: stop now, storing the trial as FAIL (interrupted) to rerun on resume")
        p.add_argument("--timeout", type=float, metavar="SECONDS", help="stop starting trials after SECONDS")

    p = sub.add_parser("run", help="run (or resume) a study from a spec file",
                       description="Run a study; re-running the same study resumes it up to its budget.")
    p.add_argument("spec", nargs="?", help="study spec YAML (default: studies/digits.yaml)")
    storage(p)
    p.add_argument("--study-name", help="study to create or resume (default: the spec's study_name)")
    p.add_argument("--n-trials", type=int, help="study-wide budget of finished trials (stored with the study)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec field, e.g. --set budget.n_trials=10 (repeatable)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes on this host (default 1); threads are split between them "
                        "and, on CUDA machines, GPUs assigned round-robin")
    p.add_argument("--devices", metavar="LIST", help="devices for the workers, round-robin, e.g. cuda:0,cuda:1")
    stopping(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("worker", help="join an existing study as one more worker (spec read from the study)",
                       description="Join a study from any host: run its trials until its study-wide budget "
                                   "is met. Start as many as you like; see docs/workers.md.")
    storage(p)
    p.add_argument("--study-name", required=True)
    p.add_argument("--index", type=int, metavar="I",
                   help="worker number: seeds the sampler with seed+I and picks GPU I mod #GPUs "
                        "(default: a fresh random seed)")
    p.add_argument("--threads", type=int, help="CPU threads for this worker (default: the spec's, else all cores)")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: the spec's device)")
    stopping(p)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("dashboard", help="serve optuna-dashboard on a storage")
    storage(p)
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8080)
    p.set_defaults(func=cmd_dashboard)

    p = sub.add_parser("export", help="write the chosen Pareto-optimal config to YAML")
    storage(p)
    p.add_argument("--study-name", help="needed when the storage holds several studies")
    p.add_argument("--pick", default="knee", help="knee (default), max:METRIC or min:METRIC")
    p.add_argument("--where", action="append", default=[], metavar="COND",
                   help="filter such as 'latency_ms<=2' (repeatable, all must hold)")
    p.add_argument("-o", "--output", default="best.yaml", help="file to write (default best.yaml)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("export-model", help="re-run one trial from its stored config and save the deployed model",
                       description="Rebuild, retrain and compress trial N exactly as the search did, and save it "
                                   "(safetensors weights + a JSON manifest that replays pruning; no pickles).")
    storage(p)
    p.add_argument("--study-name", help="needed when the storage holds several studies")
    p.add_argument("--trial", type=int, required=True, help="trial number (see the Pareto table or the dashboard)")
    p.add_argument("-o", "--output", default="trial_model", help="folder to write")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N (default: the spec's device)")
    p.set_defaults(func=cmd_export_model)

    p = sub.add_parser("train", help="retrain an exported config on train+val; report test accuracy; save it")
    p.add_argument("export", help="YAML written by scalesearch export")
    p.add_argument("-o", "--output", default="model", help="folder for model.safetensors + model.yaml")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    p.add_argument("--epochs", type=int, help="override the exported number of epochs")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("stability", help="retrain the Pareto front K times with new seeds; report accuracy spread",
                       description="Measure accuracy_std (the spread of validation accuracy over K trainings with "
                                   "different seeds) for each Pareto-optimal trial; stored on the study.")
    storage(p)
    p.add_argument("--study-name", help="needed when the storage holds several studies")
    p.add_argument("--runs", type=int, help="trainings per trial (default: the spec's measure.stability_runs)")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N (default: the spec's device)")
    p.add_argument("--remeasure", action="store_true", help="measure again trials that already have a result")
    p.set_defaults(func=cmd_stability)

    p = sub.add_parser("studies", help="list the studies in a storage")
    storage(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_studies)

    p = sub.add_parser("spaces", help="list model families and search-space presets",
                       description="List families and presets; --json adds each family's knobs, ranges, "
                                   "and the params of its smallest and largest model.")
    p.add_argument("--json", action="store_true", help="machine-readable output with knobs, ranges and sizes")
    p.add_argument("--input-size", type=int, default=32, help="input side in pixels for --json sizes (default 32)")
    p.add_argument("--num-classes", type=int, default=10, help="classes for --json sizes (default 10)")
    p.add_argument("--in-chans", type=int, default=3, help="input channels for --json sizes (default 3)")
    p.set_defaults(func=cmd_spaces)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ScalesearchError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
