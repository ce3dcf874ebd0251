"""Does early stopping pay for itself in the default study? Both arms side by side.

Runs ``studies/digits.yaml`` (the default study, its own 24-trial budget) with early stopping
(``early_stopping.name=asha``, its default rungs) and without (``none``), for each seed
(``seed`` and ``sampler.seed``), each run a separate process on one CPU thread, the arms of a seed at the same time. For each run
it reports the hypervolume of the COMPLETE trials' validation front (accuracy against log10
params, reference point accuracy 0.90 and 10^7 params, as ``benchmarks/search_efficiency.py``),
the training epochs spent (every epoch: fine-tuning and stopped trials included,
``ss.epochs_trained``), hypervolume per 100 epochs, the Pareto points and the pruned ones among
them, wall and CPU minutes. It prints a Markdown table (``--write`` also puts it into
docs/benchmarks.md between its markers).

    python benchmarks/default_study_es.py --seeds 0 1 2 --jobs 2 --workdir /tmp/es_default
    python benchmarks/default_study_es.py --seeds 0 --set budget.n_trials=6     # a smoke run
    python benchmarks/default_study_es.py --report-only --workdir /tmp/es_default  # runs so far
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from processes import die_with_parent  # noqa: E402  (a sibling script of this folder)
from search_efficiency import hypervolume  # noqa: E402

ARMS = {"es": "early stopping (asha, default rungs)", "none": "no early stopping"}
BEGIN, END = "<!-- default_study_es:begin -->", "<!-- default_study_es:end -->"


def run_one(arm: str, seed: int, workdir: str, extra: list[str]) -> dict[str, Any]:
    """One default study in its own SQLite file; returns what the table needs."""
    import warnings

    import optuna

    from scalesearch.search.config.spec import load_spec
    from scalesearch.search.study.study import load_data, open_study, run_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    overrides = [f"study_name=default-{arm}-{seed}", f"seed={seed}", f"sampler.seed={seed}", "device=cpu",
                 "threads=1", *extra, f"early_stopping.name={'none' if arm == 'none' else 'asha'}"]
    spec = load_spec(None, overrides)
    started, cpu = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF)
    study, spec = open_study(spec, f"sqlite:///{Path(workdir) / f'{arm}-{seed}.db'}")
    data = load_data(spec.dataset, spec.space.input_size, "cpu")
    run_study(study, spec, data=data, device="cpu")
    used = resource.getrusage(resource.RUSAGE_SELF)
    return summarize(study, arm, seed) | {
        "finished": spec.budget.n_trials, "wall_minutes": (time.monotonic() - started) / 60,
        "cpu_minutes": (used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime) / 60}


def read_run(path: Path) -> dict[str, Any]:
    """A run's row from its SQLite file (also for a run still going: its trials so far; wall
    minutes from the trials' start and end, CPU minutes unknown)."""
    import optuna

    from scalesearch.search.runtime.budget import epochs_spent

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{path}"
    study = optuna.load_study(study_name=optuna.get_all_study_names(url)[0], storage=url)
    arm, seed = path.stem.split("-")
    row = summarize(study, arm, int(seed))
    times = [t for t in study.trials if t.datetime_start]
    ends = [t.datetime_complete for t in times if t.datetime_complete]
    row["wall_minutes"] = ((max(ends) - min(t.datetime_start for t in times)).total_seconds() / 60) if ends else 0.0
    row["cpu_minutes"] = math.nan
    row["finished"] = sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials)
    row["epochs"] = epochs_spent(study)
    return row


def summarize(study: Any, arm: str, seed: int) -> dict[str, Any]:
    from scalesearch.search.results.pareto import pareto_indices
    from scalesearch.search.runtime.budget import epochs_spent

    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    points = [(t.values[0], t.values[1]) for t in done]
    front = [done[i] for i in pareto_indices([(a, math.log10(p)) for a, p in points], ["maximize", "minimize"])]
    pruned = [t for t in front if (t.params.get("pruning_ratio") or 0) > 0]
    return {"arm": arm, "seed": seed, "hv": hypervolume(points), "epochs": epochs_spent(study),
            "complete": len(done), "stopped": sum(t.state.name == "PRUNED" for t in study.trials),
            "front": len(front), "front_pruned": len(pruned),
            "best_accuracy": max((a for a, _ in points), default=0.0)}


def _minutes(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def table(runs: list[dict[str, Any]]) -> str:
    rows = ["| seed | arm | trials finished | HV | epochs spent | HV per 100 epochs | complete (stopped) "
            "| front (pruned) | best accuracy | wall / CPU min |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(runs, key=lambda r: (r["seed"], r["arm"])):
        rows.append(f"| {r['seed']} | {ARMS[r['arm']]} | {r['finished']} | {r['hv']:.4f} | {r['epochs']} "
                    f"| {100 * r['hv'] / max(1, r['epochs']):.4f} "
                    f"| {r['complete']} ({r['stopped']}) | {r['front']} ({r['front_pruned']}) "
                    f"| {r['best_accuracy']:.4f} | {r['wall_minutes']:.1f} / {_minutes(r['cpu_minutes'])} |")
    for arm in ARMS:
        mine = [r for r in runs if r["arm"] == arm]
        if mine:
            rows.append(f"| median | {ARMS[arm]} | | {statistics.median(r['hv'] for r in mine):.4f} "
                        f"| {statistics.median(r['epochs'] for r in mine):.0f} "
                        f"| {statistics.median(100 * r['hv'] / max(1, r['epochs']) for r in mine):.4f} | | | | |")
    return "\n".join(rows)


def write_docs(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    doc = path.read_text()
    if BEGIN in doc and END in doc:
        doc = doc[: doc.index(BEGIN)] + text + doc[doc.index(END) + len(END):]
    else:
        doc = doc.rstrip() + "\n\n" + text + "\n"
    path.write_text(doc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--jobs", type=int, default=2, help="runs at once (one CPU thread each)")
    ap.add_argument("--workdir", default="/tmp/default_study_es")
    ap.add_argument("--set", action="append", default=[], help="spec override for both arms (repeatable)")
    ap.add_argument("--write", action="store_true", help="put the table into docs/benchmarks.md")
    ap.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS), help="arms to run (default both)")
    ap.add_argument("--report-only", action="store_true", help="tabulate the runs in --workdir as they are")
    args = ap.parse_args()
    if args.report_only:
        print(table([read_run(p) for p in sorted(Path(args.workdir).glob("*-*.db"))]))
        return
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    jobs = [(arm, seed) for seed in args.seeds for arm in args.arms]
    with ProcessPoolExecutor(args.jobs, initializer=die_with_parent) as pool:
        runs = list(pool.map(run_one, *zip(*jobs, strict=True), [args.workdir] * len(jobs), [args.set] * len(jobs)))
    (Path(args.workdir) / "default_study_es.json").write_text(json.dumps(runs, indent=1))
    text = table(runs)
    print(text)
    if args.write:
        write_docs(f"{BEGIN}\n{text}\n{END}")


if __name__ == "__main__":
    main()
