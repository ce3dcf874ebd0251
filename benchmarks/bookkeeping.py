"""Bookkeeping as a study grows: the per-trial cost of everything that is not training.

A study is filled to 10, 100, 1,000 and 5,000 finished trials (synthetic copies of a real
trial: its params, config and ``ss.*`` attributes, with rung values, so rung queries have peers),
and at each size ``M`` more trials run through the real worker loop and objective
(``run_study``) with an instant trainer (made-up curves, every epoch reported, early stopping on).
Timed apart and subtracted: building the model, costing it, the deploy measurement, extra
metrics, and the sampler (reported in its own column). What is left per trial is the
bookkeeping: storage writes, budget reads, the ask lock, heartbeat sweeps, rung queries,
epoch counting. The target: the cost at 5,000 trials is at most 2x the cost at 100.

    nice python benchmarks/bookkeeping.py [--backends sqlite postgresql] [--sizes 10 100 1000 5000]
                                          [--measure 20] [--sampler random]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from scalesearch.search.runtime.device_share import LOCK_DIR_VAR

ROOT = Path(__file__).resolve().parent.parent
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
OVERRIDES = [
    "space.training.epochs=4", "space.training.batch_size=32", "early_stopping.name=asha",
    "early_stopping.min_epochs=1", "early_stopping.eta=3", "measure.latency_repeats=1", "measure.latency_warmup=0",
    "space.families.resnet.width_multiplier={low: 0.0625, high: 0.125, log: true}",
    "space.families.convnext.width_multiplier={low: 0.25, high: 0.3}", "space.compression={}",
]
#: Objective steps that are work, not bookkeeping: name in the objective module -> timed apart.
WORK = ("build_model", "costs_before_training", "deploy_trial", "extra_metrics")


class Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*a: Any, **k: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

        return timed


class InstantTrainer:
    """Made-up curves, no compute; reports every epoch (rung queries, epoch counting run)."""

    def __call__(self, model: Any, data: Any, cfg: Any, device: str, on_epoch: Any = None) -> Any:
        from scalesearch.search.training.train import EpochReport, TrainResult

        rng = random.Random(cfg.seed)
        ceiling = 0.8 + 0.19 * rng.random()
        curve = []
        for epoch in range(1, cfg.epochs + 1):
            curve.append(ceiling * (1 - 0.5 ** epoch))
            if on_epoch is not None:
                on_epoch(EpochReport(epoch, 1.0 / epoch, curve[-1], 0.0))
        return TrainResult(curve[-1], curve, len(curve), 0.0, 0.1)


@contextlib.contextmanager
def instrumented(study: Any, clock: Clock) -> Iterator[None]:
    """Time the objective's work steps and the sampler's calls into ``clock``."""
    from scalesearch.search.study import objective

    saved = {name: getattr(objective, name) for name in WORK}
    sampler = study.sampler
    methods = ("infer_relative_search_space", "sample_relative", "sample_independent", "before_trial", "after_trial")
    saved_sampler = {m: getattr(sampler, m) for m in methods}
    for name in WORK:
        setattr(objective, name, clock.wrap(name, saved[name]))
    for m in methods:
        setattr(sampler, m, clock.wrap("sampler", saved_sampler[m]))
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(objective, name, fn)
        for m in methods:
            delattr(sampler, m)


def fill(study: Any, template: Any, count: int, rng: random.Random) -> None:
    """Add ``count`` finished copies of ``template`` (COMPLETE or PRUNED at a rung)."""
    import optuna

    rungs = [k for k in template.user_attrs if k.startswith("ss.rung.")]
    for _ in range(count):
        accuracy = 0.8 + 0.19 * rng.random()
        attrs = dict(template.user_attrs) | {k: accuracy * rng.uniform(0.9, 1.0) for k in rungs}
        pruned = rng.random() < 0.5
        study.add_trial(optuna.trial.create_trial(
            state=optuna.trial.TrialState.PRUNED if pruned else optuna.trial.TrialState.COMPLETE,
            values=None if pruned else [accuracy, template.values[1]], params=template.params,
            distributions=template.distributions, user_attrs=attrs, system_attrs=template.system_attrs))


def measure(study: Any, spec: Any, data: Any, m: int, finished: int) -> dict[str, float]:
    """Run ``m`` more trials; seconds per trial: wall, work, sampler, bookkeeping."""
    from scalesearch.search.study.study import run_study, with_budget

    spec = with_budget(spec, {"n_trials": finished + m})
    clock = Clock()
    with instrumented(study, clock):
        started = time.perf_counter()
        run_study(study, spec, data=data, device="cpu", trainer=InstantTrainer())
        wall = time.perf_counter() - started
    work = sum(clock.seconds.get(n, 0.0) for n in WORK)
    sampler = clock.seconds.get("sampler", 0.0)
    return {"wall": wall / m, "work": work / m, "sampler": sampler / m, "bookkeeping": (wall - work - sampler) / m}


def tiny_data() -> Any:
    from scalesearch.search.datasets import Dataset, Split, load_dataset

    full = load_dataset("digits")
    cut = lambda s, n: Split(s.x[:n], s.y[:n])  # noqa: E731
    return Dataset("digits", cut(full.train, 60), cut(full.val, 30), cut(full.test, 30), full.num_classes,
                   full.in_chans, full.input_size, full.class_names)


def run_backend(url: str, sizes: list[int], m: int, sampler: str, say: Callable[[str], None]) -> list[dict[str, Any]]:
    import optuna

    from scalesearch.search.config.spec import load_spec
    from scalesearch.search.study.study import count_finished, open_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = load_spec(None, [*OVERRIDES, f"sampler.name={sampler}", "budget.n_trials=1",
                            f"study_name=bk-{uuid.uuid4().hex[:8]}"])
    study, spec = open_study(spec, url)
    data, rng, rows = tiny_data(), random.Random(0), []
    measure(study, spec, data, 1, 0)  # one real trial: the template for the synthetic ones
    template = next(t for t in study.get_trials() if t.state.name == "COMPLETE")
    for size in sizes:
        missing = size - count_finished(study)
        if missing > 0:
            started = time.perf_counter()
            fill(study, template, missing, rng)
            say(f"  filled to {size} trials in {time.perf_counter() - started:.0f} s")
        finished = count_finished(study)
        row = {"trials": finished, **measure(study, spec, data, m, finished)}
        rows.append(row)
        say(f"  at {finished} trials: bookkeeping {row['bookkeeping'] * 1e3:.1f} ms/trial, "
            f"sampler {row['sampler'] * 1e3:.1f} ms, work {row['work'] * 1e3:.1f} ms")
    return rows


def table(results: dict[str, list[dict[str, Any]]], sampler: str) -> str:
    lines = [f"sampler: {sampler}; per trial, ms (bookkeeping = wall - work - sampler)",
             "| backend | trials in study | bookkeeping | sampler | work (build, cost, measure) | wall |",
             "|---|---|---|---|---|---|"]
    for backend, rows in results.items():
        for r in rows:
            lines.append(f"| {backend} | {r['trials']} | {r['bookkeeping'] * 1e3:.1f} | {r['sampler'] * 1e3:.1f} | "
                         f"{r['work'] * 1e3:.1f} | {r['wall'] * 1e3:.1f} |")
        by = {r["trials"]: r["bookkeeping"] for r in rows}
        small = min(by, key=lambda n: abs(math.log(n / 100)))
        large = max(by)
        lines.append(f"| {backend} | ratio {large} / {small} | **{by[large] / by[small]:.2f}** | | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    p.add_argument("--sizes", nargs="+", type=int, default=[10, 100, 1000, 5000])
    p.add_argument("--measure", type=int, default=20, help="trials run and timed at each size")
    p.add_argument("--sampler", default="random")
    p.add_argument("--postgres", default=PG_URL)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bookkeeping.json")
    args = p.parse_args(argv)
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bookkeeping-") as tmp:
        os.environ[LOCK_DIR_VAR] = tmp  # measurements wait for no other process on a shared host
        for backend in args.backends:
            url = f"sqlite:///{tmp}/bk.db" if backend == "sqlite" else args.postgres
            print(f"{backend}:", flush=True)
            results[backend] = run_backend(url, sorted(args.sizes), args.measure, args.sampler,
                                           lambda s: print(s, flush=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"sampler": args.sampler, "measure": args.measure, "results": results}, indent=2))
    print(table(results, args.sampler))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

