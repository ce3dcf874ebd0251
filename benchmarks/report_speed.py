"""How long ``scalesearch report`` takes on a 1,000-trial study (issue 14's target: <= 10 s).

    PYTHONPATH=.. python benchmarks/report_speed.py [--trials 1000] [--db /tmp/report_speed.db] [--repeats 3]

The study: the default spec (``studies/digits.yaml``) run with the tests' fake trainer (made-up
learning curves; models are still built and measured), random sampler, early stopping on (asha,
which the default spec now turns off; stopped trials are what make 1,000 trials draw heavy). It is
built once into ``--db`` (about 25 minutes for 1,000 trials on 2 busy cores) and reused. Then
``scalesearch report`` runs as a user runs it, in a fresh process, ``--repeats`` times with PNGs
and without (``--no-png``). Each run's wall time and CPU time (the command and the browser it
starts) are printed with the load average: a shared machine stretches wall time, not CPU time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_PARENT = Path(__file__).resolve().parents[2]


def build(db: Path, trials: int) -> None:
    import optuna

    from scalesearch.search.config.spec import load_spec
    from scalesearch.search.study.study import open_study, run_study
    from scalesearch.tests.conftest import FakeTrainer

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{db}"
    spec = load_spec(None, [f"budget.n_trials={trials}", "sampler.name=random", "device=cpu", "threads=1",
                            "early_stopping.name=asha", "measure.latency_repeats=2", "measure.latency_warmup=1"])
    study, spec = open_study(spec, url)
    started = time.perf_counter()
    summary = run_study(study, spec, device="cpu", trainer=FakeTrainer(), storage_url=url)
    print(f"built {summary.finished} trials in {time.perf_counter() - started:.0f}s into {db}")


def run_report(db: Path, png: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one ``scalesearch report`` process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_PARENT), os.environ.get("PYTHONPATH")) if p)}
    with tempfile.TemporaryDirectory() as out:
        argv = [sys.executable, "-m", "scalesearch.cli", "report", "--storage", f"sqlite:///{db}",
                "--study-name", "digits", "-o", out, *([] if png else ["--no-png"])]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "report_speed.db")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not args.db.exists():
        build(args.db, args.trials)
    print(f"scalesearch report on {args.db} ({os.cpu_count()} CPUs), median of {args.repeats}:")
    for png in (False, True):
        runs = [run_report(args.db, png) for _ in range(args.repeats)]
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        load = os.getloadavg()[0]
        print(f"  {'with PNGs   ' if png else 'without PNGs'}: {wall:5.1f} s wall, {cpu:5.1f} s CPU "
              f"(runs: {', '.join(f'{w:.1f}' for w, _ in runs)} s; load average {load:.1f})")


if __name__ == "__main__":
    main()
