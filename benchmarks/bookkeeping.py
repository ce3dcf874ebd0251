"""Bookkeeping as a study grows: the per-trial cost of everything that is not training.

One study per size is filled to 10, 100, 1,000 and 5,000 finished trials (synthetic copies of a
real trial: its params, config and ``ss.*`` attributes, with rung values, so rung queries have
peers); then ``M`` rounds run, each one more trial at every size in turn (order alternating), through
the real worker loop and objective (``run_study``) with an instant trainer (made-up curves, every
epoch reported, early stopping on): the sizes are interleaved, so a change of load hits all alike.
Each round also times TPE's own cost to propose one config on each study (reported apart).
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


def tpe_study(study: Any, url: str) -> Any:
    """The same study, opened with a TPE sampler (for :func:`tpe_probe`)."""
    import optuna

    from scalesearch.search.storage.storage import open_storage
    from scalesearch.search.study.samplers import make_sampler

    return optuna.load_study(study_name=study.study_name, storage=open_storage(url),
                             sampler=make_sampler("tpe", 0, None, 100))


def tpe_probe(probe: Any, spec: Any) -> float:
    """Seconds TPE spends proposing one config on the study (its own cost, apart from the run):
    one ``ask`` with a TPE sampler on the same storage, told FAIL (never finished, so it changes
    no count, rung or TPE model the benchmark reads)."""
    import optuna

    from scalesearch.spaces.space import suggest

    clock = Clock()
    methods = ("infer_relative_search_space", "sample_relative", "sample_independent", "before_trial")
    for m in methods:
        setattr(probe.sampler, m, clock.wrap("tpe", getattr(probe.sampler, m)))
    trial = probe.ask()
    suggest(trial, spec.space)
    probe.tell(trial, state=optuna.trial.TrialState.FAIL)
    return clock.seconds.get("tpe", 0.0)


def prepare(url: str, size: int, sampler: str, data: Any, rng: random.Random, template: Any,
            say: Callable[[str], None]) -> tuple[Any, Any, Any]:
    """A study of ``size`` finished trials (copies of ``template``; the first study's real trial
    becomes the template when ``template`` is None)."""
    from scalesearch.search.config.spec import load_spec
    from scalesearch.search.study.study import count_finished, open_study

    spec = load_spec(None, [*OVERRIDES, f"sampler.name={sampler}", "budget.n_trials=1",
                            f"study_name=bk{size}-{uuid.uuid4().hex[:8]}"])
    study, spec = open_study(spec, url)
    if template is None:
        measure(study, spec, data, 1, 0)  # one real trial: the template for the synthetic ones
        template = next(t for t in study.get_trials() if t.state.name == "COMPLETE")
    started = time.perf_counter()
    fill(study, template, size - count_finished(study), rng)
    say(f"  study of {size} trials filled in {time.perf_counter() - started:.0f} s")
    return study, spec, template


def run_backend(url: str, sizes: list[int], m: int, sampler: str, say: Callable[[str], None]) -> list[dict[str, Any]]:
    """One study per size, then ``m`` rounds; each round runs one trial at every size in turn
    (and one TPE probe), so a change of the machine's load hits every size alike."""
    import optuna

    from scalesearch.search.study.study import count_finished

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data, rng, template = tiny_data(), random.Random(0), None
    studies = []
    for size in sizes:
        study, spec, template = prepare(url, size, sampler, data, rng, template, say)
        studies.append((size, study, spec, tpe_study(study, url)))
    sums = {size: {"wall": 0.0, "work": 0.0, "sampler": 0.0, "bookkeeping": 0.0, "tpe": 0.0} for size in sizes}
    for round_ in range(m):
        for size, study, spec, probe in (studies if round_ % 2 == 0 else studies[::-1]):
            row = measure(study, spec, data, 1, count_finished(study))
            row["tpe"] = tpe_probe(probe, spec)
            for k, v in row.items():
                sums[size][k] += v
        say(f"  round {round_ + 1}/{m} done")
    rows = []
    for size, *_ in studies:
        row = {"trials": size, **{k: v / m for k, v in sums[size].items()}}
        rows.append(row)
        say(f"  at {size} trials: bookkeeping {row['bookkeeping'] * 1e3:.1f} ms/trial, sampler "
            f"{row['sampler'] * 1e3:.1f} ms, tpe {row['tpe'] * 1e3:.1f} ms, work {row['work'] * 1e3:.1f} ms")
    return rows


def table(results: dict[str, list[dict[str, Any]]], sampler: str) -> str:
    lines = [f"sampler: {sampler}; per trial, ms (bookkeeping = wall - work - sampler); TPE: its own "
             "cost to propose one config on the same study",
             f"| backend | trials in study | bookkeeping | sampler ({sampler}) | sampler (TPE) | "
             "work (build, cost, measure) | wall |",
             "|---|---|---|---|---|---|---|"]
    for backend, rows in results.items():
        for r in rows:
            lines.append(f"| {backend} | {r['trials']} | {r['bookkeeping'] * 1e3:.1f} | {r['sampler'] * 1e3:.1f} | "
                         f"{r.get('tpe', float('nan')) * 1e3:.1f} | {r['work'] * 1e3:.1f} | {r['wall'] * 1e3:.1f} |")
        by = {r["trials"]: r["bookkeeping"] for r in rows}
        small = min(by, key=lambda n: abs(math.log(n / 100)))
        large = max(by)
        lines.append(f"| {backend} | ratio {large} / {small} | **{by[large] / by[small]:.2f}** | | | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    p.add_argument("--sizes", nargs="+", type=int, default=[10, 100, 1000, 5000])
    p.add_argument("--measure", type=int, default=20, help="rounds; each runs and times one trial at every size")
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

