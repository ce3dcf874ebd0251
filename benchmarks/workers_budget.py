"""Study-wide budget with N worker processes: the claim protocol vs a naive stop callback.

Each worker process runs a fake objective (sleeps 0..SLEEP s, no torch) on one shared storage.
``naive`` is what a single-process tool does: ``study.optimize`` with a callback that calls
``study.stop()`` once finished >= n_trials. ``claim`` is ``search/runtime/loop.py:work``. Prints, per
storage and method, the finished trials (the budget is N_TRIALS), the FAIL count, and the wall
time, so overshoot and overhead sit side by side.

    PYTHONPATH=.. python benchmarks/workers_budget.py [--workers 4] [--n-trials 24] [--postgres URL]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore", message=".*experimental feature.*")  # Optuna's heartbeat notice

SLEEP = 0.05


def _objective(rng: random.Random) -> Any:
    def objective(trial: Any) -> list[float]:
        x = trial.suggest_float("x", 0.0, 1.0)
        time.sleep(rng.random() * SLEEP)
        return [x, 1.0 - x]

    return objective


def naive_worker(url: str, name: str, n_trials: int, seed: int) -> None:
    import optuna

    from scalesearch.search.study.study import count_finished, open_study

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study, _ = open_study(None, url, name)

    def stop_when_done(study: Any, trial: Any) -> None:
        if count_finished(study) >= n_trials:
            study.stop()

    if count_finished(study) < n_trials:
        study.optimize(_objective(random.Random(seed)), callbacks=[stop_when_done])


def claim_worker(url: str, name: str, n_trials: int, seed: int) -> None:
    import optuna

    from scalesearch.search.runtime.loop import work
    from scalesearch.search.study.study import open_study

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study, spec = open_study(None, url, name)
    work(study, spec, _objective(random.Random(seed)), storage_url=url, poll_seconds=0.05)


def measure(method: str, url: str, workers: int, n_trials: int) -> dict[str, Any]:
    import optuna

    from scalesearch.search.config.spec import spec_from_data
    from scalesearch.search.study.study import count_finished, open_study

    name = f"bench-{method}-{uuid.uuid4().hex[:6]}"
    spec = spec_from_data({"study_name": name, "space": "small_cnn", "budget": {"n_trials": n_trials},
                           "sampler": {"name": "random", "seed": None}})
    study, _ = open_study(spec, url)
    target = naive_worker if method == "naive" else claim_worker
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.starmap(target, [(url, name, n_trials, seed) for seed in range(workers)], chunksize=1)
    seconds = time.perf_counter() - started
    fails = len(study.get_trials(states=(optuna.trial.TrialState.FAIL,)))
    return {"method": method, "finished": count_finished(study), "fail": fails, "seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--n-trials", type=int, default=24)
    parser.add_argument("--postgres", help="a PostgreSQL URL to include, e.g. postgresql://postgres@127.0.0.1/test")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ss-bench-"))
    urls = {"sqlite": f"sqlite:///{folder / 'b.db'}", "journal": f"journal:///{folder / 'b.log'}"}
    if args.postgres:
        urls["postgresql"] = args.postgres
    print(f"{args.workers} workers, budget {args.n_trials}, objective sleeps 0-{SLEEP * 1000:.0f} ms")
    for backend, url in urls.items():
        for method in ("naive", "claim"):
            row = measure(method, url, args.workers, args.n_trials)
            print(f"{backend:10s} {row['method']:6s} finished {row['finished']:3d}/{args.n_trials}  "
                  f"fail {row['fail']}  {row['seconds']:5.1f}s")


if __name__ == "__main__":
    main()
