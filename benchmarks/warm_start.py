"""Warm start against cold start at the same small budget (issue 26).

For each transfer and seed S, the earlier study is the default study run with ``sampler.seed=S``
(``d<S>`` in ``<sources>/seed<S>/study.db``; copied first, never written). Three runs of the
target study, all with ``sampler.seed=S`` and nothing else different:

  cold-8    8 trials, no warm start
  cold-16   16 trials, no warm start
  warm-16   16 trials, ``--warm-start <copy>#d<S>``
  queue-16  the same warm start with the sampler's learning switched off (``learning_sampler``
            replaced by the identity in that process only): the earlier front's configurations
            are queued, and TPE then knows only the study's own trials. Warm against queue-only
            says what the sampler's model of the earlier trials adds to the queue.

Warm at 8 trials is read from the first 8 finished trials of warm-16: the warm sampler is the same
at either budget (the queue is min(4, budget // 2) = 4 configurations at 8 and 16, the family
seeds are the same, and TPE's startup count never applies, since the earlier trials already
exceed it), and training is deterministic on the CPU. ``--check-prefix`` runs warm-8 once for the
first seed of the first transfer and compares. Cold at 8 is read the same way from cold-16 (by
default: both are then what a 16-trial study holds after 8 trials; a cold study of 8 would start
TPE after 4 random trials instead of 5), or from its own run with ``--arms cold-8 ...``.

Hypervolume: the COMPLETE trials' validation front, accuracy against log10 params, reference
point accuracy 0.90 and 10^7 params (as docs/benchmarks.md's default-study table).

    python benchmarks/warm_start.py --workdir /tmp/warm --seeds 0 1 2
    python benchmarks/warm_start.py --workdir /tmp/warm --report-only

Transfers:

  narrow   the default space -> ResNets only, widths up to 0.25, pruning 0 or 0.25 (ConvNeXt
           configurations dropped, wider ResNets clipped, pruning 0.5 moved to 0.25)
  pixels   digits at 8 px -> digits at 12 px (``dataset.input_size=12``), same space

The targets train as the earlier default studies did (20 one-cycle epochs, searched augmentation,
fine-tuning 2 + ratio x 20 epochs when pruned), so the transfer is the one named; ``--epochs 4``
adds a recipe shift on top (4 epochs, 1 of fine-tuning), as the benchmark ran before.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = (0.90, 7.0)  # (accuracy, log10 params), as benchmarks/search_efficiency.py
SOURCE_EPOCHS = 20  # the default study's recipe (spaces/small_cnn.yaml), which the earlier studies ran
SHIFTED_FINETUNE = {"finetune_epochs": 1, "finetune_fraction": 0.0}  # fine-tuning under another epoch count


def narrow_space(epochs: int) -> dict[str, Any]:
    """The default space (``spaces/small_cnn.yaml``) narrowed: ResNets only, widths up to 0.25,
    pruning 0 or 0.25; trained for ``epochs`` (+1 epoch of fine-tuning when not the source's)."""
    space = yaml.safe_load((ROOT / "spaces" / "small_cnn.yaml").read_text())
    space |= {"name": "small_cnn_narrow",
              "description": "ResNets of small_cnn up to width 0.25, pruned by 0 or 0.25 (the warm-start benchmark's narrower space)."}
    space["families"] = {"resnet": space["families"]["resnet"]}
    space["families"]["resnet"]["width_multiplier"]["high"] = 0.25
    space["training"]["epochs"] = epochs
    space["compression"]["pruning_ratio"] = {"choices": [0.0, 0.25]}
    if epochs != SOURCE_EPOCHS:
        space["compression"] |= SHIFTED_FINETUNE
    return space


def recipe(epochs: int) -> list[str]:
    """``--set`` items that train a target for ``epochs`` (nothing: the source's recipe)."""
    if epochs == SOURCE_EPOCHS:
        return []
    return [f"space.training.epochs={epochs}", *(f"space.compression.{k}={v}" for k, v in SHIFTED_FINETUNE.items())]


TRANSFERS = {
    "narrow": {"label": "default space -> narrower (ResNets up to w=0.25)", "set": ["space={narrow}"], "seeded": 1,
               "recipe": False},
    "pixels": {"label": "digits 8 px -> 12 px", "set": ["dataset.input_size=12"], "seeded": 2, "recipe": True},
}
ARMS = {"cold-8": (8, None), "cold-16": (16, None), "warm-16": (16, "learn"), "queue-16": (16, "queue")}
DEFAULT_ARMS = ["cold-16", "warm-16"]  # at 8 trials both are read from their first 8
#: Runs the CLI with the warm sampler off: the queue-only arm's only difference from warm-16.
QUEUE_ONLY = ("import sys\n"
              "from scalesearch.search.study import study, warm_start\n"
              "study.learning_sampler = warm_start.learning_sampler = lambda s, spec, sampler: sampler\n"
              "from scalesearch.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")


def hypervolume(points: list[tuple[float, float]]) -> float:
    """HV of ``(accuracy, params)`` points: accuracy maximised, log10(params) minimised."""
    from scalesearch.search.results.hypervolume import hypervolume as dominated_volume

    return dominated_volume([(-a, math.log10(p)) for a, p in points], (-REFERENCE[0], REFERENCE[1]))


def copy_source(sources: Path, seed: int, folder: Path) -> str:
    """A consistent copy of ``d<seed>`` (SQLite's backup API: the WAL included)."""
    target = folder / "source.db"
    done = sources / f"seed{seed}" / "study.done"
    while not done.exists():  # the earlier study may still be running
        print(f"waiting for {done}", flush=True)
        time.sleep(30)
    if not target.exists():
        with sqlite3.connect(sources / f"seed{seed}" / "study.db") as src, sqlite3.connect(target) as dst:
            src.backup(dst)
    return f"sqlite:///{target}#d{seed}"


def run_arm(folder: Path, arm: str, n_trials: int, seed: int, extra: list[str], warm: str | None,
            learn: bool = True) -> float:
    """One study by the CLI (its own process); returns wall seconds (0 when already done).
    ``learn=False`` runs it with the warm sampler off (:data:`QUEUE_ONLY`)."""
    db = folder / f"{arm}.db"
    done = folder / f"{arm}.done"
    if done.exists():
        return 0.0
    cli = ["-m", "scalesearch.cli"] if learn else ["-c", QUEUE_ONLY]
    cmd = [sys.executable, *cli, "run", str(ROOT / "studies" / "digits.yaml"),
           "--storage", f"sqlite:///{db}", "--study-name", arm, "--n-trials", str(n_trials),
           "--set", f"sampler.seed={seed}", "--set", "threads=1"]
    for item in extra:
        cmd += ["--set", item]
    if warm:
        cmd += ["--warm-start", warm]
    started = time.monotonic()
    with open(folder / f"{arm}.log", "w") as log:
        code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy()).returncode
    if code != 0:
        raise SystemExit(f"{folder / arm}: exit {code}; see {folder / f'{arm}.log'}")
    done.write_text("ok\n")
    return time.monotonic() - started


def history(db: Path, arm: str) -> list[dict[str, Any]]:
    """The study's finished trials in finishing order: number, state, accuracy, params, origin."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name=arm, storage=f"sqlite:///{db}")
    finished = [t for t in study.get_trials(deepcopy=False) if t.state.name in ("COMPLETE", "PRUNED")]
    finished.sort(key=lambda t: t.datetime_complete)
    return [{"number": t.number, "state": t.state.name, "values": list(t.values) if t.values else None,
             "from": t.user_attrs.get("ss.warm_start.from")} for t in finished]


def hv_at(trials: list[dict[str, Any]], k: int) -> float:
    return hypervolume([tuple(t["values"]) for t in trials[:k] if t["state"] == "COMPLETE" and t["values"]])


def measure(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    narrow = args.workdir / "narrow.yaml"
    narrow.parent.mkdir(parents=True, exist_ok=True)
    narrow.write_text(yaml.safe_dump(narrow_space(args.epochs), sort_keys=False))
    for seed in args.seeds:
        for name in args.transfers:
            folder = args.workdir / name / f"seed{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            source = seed if args.source_seed is None else args.source_seed
            warm = copy_source(args.sources, source, folder)
            extra = [s.format(narrow=narrow) for s in TRANSFERS[name]["set"]]
            extra += recipe(args.epochs) if TRANSFERS[name]["recipe"] else []
            entry = results.setdefault(name, {}).setdefault(str(seed), {})
            entry["source"] = f"d{source}"
            for arm, (n_trials, how) in ARMS.items():
                if arm not in args.arms:
                    continue
                seconds = run_arm(folder, arm, n_trials, seed, extra, warm if how else None, learn=how != "queue")
                trials = history(folder / f"{arm}.db", arm)
                entry[arm] = {"trials": trials, "seconds": round(seconds, 1) or entry.get(arm, {}).get("seconds"),
                              "hv8": hv_at(trials, 8), "hv16": hv_at(trials, 16) if n_trials == 16 else None}
                print(f"{name} seed {seed} {arm}: HV@8 {entry[arm]['hv8']:.4f}"
                      + (f" HV@16 {entry[arm]['hv16']:.4f}" if entry[arm]["hv16"] is not None else "")
                      + f" ({seconds:.0f}s)", flush=True)
                args.out.write_text(json.dumps(results, indent=1))
            if args.check_prefix and seed == args.seeds[0] and name == args.transfers[0]:
                run_arm(folder, "warm-8", 8, seed, extra, warm)
                short = history(folder / "warm-8.db", "warm-8")
                same = [t["values"] for t in short] == [t["values"] for t in entry["warm-16"]["trials"][:8]]
                entry["prefix_check"] = {"warm8_hv": hv_at(short, 8), "identical_first_8": same}
                print(f"{name} seed {seed}: warm-8 run HV {hv_at(short, 8):.4f}; first 8 trials identical "
                      f"to warm-16's: {same}", flush=True)
                args.out.write_text(json.dumps(results, indent=1))
    return results


def mean_se(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("nan"))


def cold_arm(entry: dict[str, Any], budget: int) -> str:
    """The cold arm a seed's ``budget``-trial HV is read from: ``cold-8`` at 8 where that seed ran
    it, otherwise the first 8 trials of ``cold-16`` (as warm at 8 is read from warm-16)."""
    return "cold-8" if budget == 8 and "cold-8" in entry else "cold-16"


def report(results: dict[str, Any]) -> str:
    """A Markdown table: per transfer and budget, cold and warm HV (mean ± s.e. over seeds), the
    ratio of means and the paired difference (mean ± s.e.)."""
    lines = ["| transfer | trials | seeds | cold HV | warm HV | warm / cold | warm - cold (paired) | "
             "warm - 1.3 cold (paired) | per seed (cold -> warm) |", "|---|---|---|---|---|---|---|---|---|"]
    for name, seeds in results.items():
        for budget, key in ((8, "hv8"), (16, "hv16")):
            rows = [(s[cold_arm(s, budget)][key], s["warm-16"][key]) for s in seeds.values()
                    if cold_arm(s, budget) in s and "warm-16" in s]
            if not rows:
                continue
            cold, warm = mean_se([c for c, _ in rows]), mean_se([w for _, w in rows])
            diff = mean_se([w - c for c, w in rows])
            target = mean_se([w - 1.3 * c for c, w in rows])  # > 2 s.e.: warm >= 1.3x cold, beyond noise
            per = ", ".join(f"{c:.3f} -> {w:.3f}" for c, w in rows)
            lines.append(f"| {TRANSFERS[name]['label']} | {budget} | {len(rows)} | {cold[0]:.4f} ± {cold[1]:.4f} | "
                         f"{warm[0]:.4f} ± {warm[1]:.4f} | {warm[0] / cold[0]:.2f}x | {diff[0]:+.4f} ± {diff[1]:.4f} | "
                         f"{target[0]:+.4f} ± {target[1]:.4f} | {per} |")
    return "\n".join(lines)


def queue_report(results: dict[str, Any]) -> str:
    """Warm against queue-only, paired per seed, at 8 and 16 trials: what the sampler's model of
    the earlier trials adds to the queued configurations."""
    lines = ["| transfer | trials | seeds | queue-only HV | warm HV | warm - queue-only (paired) |", "|---|---|---|---|---|---|"]
    for name, seeds in results.items():
        for budget, key in ((8, "hv8"), (16, "hv16")):
            rows = [(s["queue-16"][key], s["warm-16"][key]) for s in seeds.values() if "queue-16" in s and "warm-16" in s]
            if not rows:
                continue
            queue, warm, diff = (mean_se([q for q, _ in rows]), mean_se([w for _, w in rows]),
                                 mean_se([w - q for q, w in rows]))
            lines.append(f"| {TRANSFERS[name]['label']} | {budget} | {len(rows)} | {queue[0]:.4f} ± {queue[1]:.4f} | "
                         f"{warm[0]:.4f} ± {warm[1]:.4f} | {diff[0]:+.4f} ± {diff[1]:.4f} |")
    return "\n".join(lines)


def headroom(results: dict[str, Any]) -> str:
    """How much room a warm start has at 8 trials: per transfer, the HV of every trial any arm of
    a seed ran (pooled: a lower bound on what that target can reach) against cold's HV at 8. When
    pooled / cold is under 1.3, no start of 8 trials can be 1.3x cold unless it finds a front no
    run found."""
    lines = ["| transfer | seeds | cold HV at 8 | pooled HV, all arms | largest possible warm / cold | per seed |",
             "|---|---|---|---|---|---|"]
    for name, seeds in results.items():
        rows = []
        for entry in seeds.values():
            arms = [a for a in ARMS if a in entry]
            if "cold-16" not in entry:
                continue
            pooled = hypervolume([tuple(t["values"]) for a in arms for t in entry[a]["trials"]
                                  if t["state"] == "COMPLETE" and t["values"]])
            rows.append((entry[cold_arm(entry, 8)]["hv8"], pooled))
        if rows:
            cold, pooled = mean_se([c for c, _ in rows]), mean_se([p for _, p in rows])
            ratio = mean_se([p / c for c, p in rows])
            per = ", ".join(f"{p / c:.2f}x" for c, p in rows)
            lines.append(f"| {TRANSFERS[name]['label']} | {len(rows)} | {cold[0]:.4f} ± {cold[1]:.4f} | "
                         f"{pooled[0]:.4f} ± {pooled[1]:.4f} | {ratio[0]:.2f}x ± {ratio[1]:.2f} | {per} |")
    return "\n".join(lines)


def proposed_accuracy(results: dict[str, Any]) -> str:
    """What the sampler itself proposed (neither a family's first trial, ``seeded`` per transfer,
    nor a queued earlier configuration): the median validation accuracy of those trials among the
    first 16, cold against warm, per seed. The queue alone cannot explain a difference here."""
    lines = ["| transfer | seeds | cold: median accuracy of proposed trials | warm | per seed (cold -> warm) |",
             "|---|---|---|---|---|"]
    for name, seeds in results.items():
        skip = TRANSFERS[name]["seeded"]
        rows = []
        for entry in seeds.values():
            if "cold-16" not in entry or "warm-16" not in entry:
                continue
            medians = [statistics.median(t["values"][0] for t in entry[arm]["trials"][:16]
                                         if t["number"] >= skip and not t["from"] and t["values"])
                       for arm in ("cold-16", "warm-16")]
            rows.append(medians)
        if rows:
            cold, warm = mean_se([c for c, _ in rows]), mean_se([w for _, w in rows])
            per = ", ".join(f"{c:.3f} -> {w:.3f}" for c, w in rows)
            lines.append(f"| {TRANSFERS[name]['label']} | {len(rows)} | {cold[0]:.3f} ± {cold[1]:.3f} | "
                         f"{warm[0]:.3f} ± {warm[1]:.3f} | {per} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--sources", type=Path, default=Path("/work/bench/before"),
                        help="folder with seed<S>/study.db holding the default study d<S>")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--transfers", nargs="+", default=list(TRANSFERS), choices=list(TRANSFERS))
    parser.add_argument("--source-seed", type=int, metavar="S",
                        help="warm-start every seed from d<S> (default: seed S from d<S>)")
    parser.add_argument("--check-prefix", action="store_true",
                        help="also run warm-8 once and check it equals warm-16's first 8 trials")
    parser.add_argument("--arms", nargs="+", default=DEFAULT_ARMS, choices=list(ARMS),
                        help="studies to run per transfer and seed (default: cold-16 warm-16; cold-8 runs a "
                             "cold study of 8, whose TPE starts after 4 random trials, not 5)")
    parser.add_argument("--epochs", type=int, default=SOURCE_EPOCHS,
                        help=f"epochs the targets train (default {SOURCE_EPOCHS}: the earlier studies' recipe; "
                             "fewer: a recipe shift on top of the transfer)")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    args.out = args.workdir / "warm_start.json"
    results = json.loads(args.out.read_text()) if args.report_only else measure(args)
    print(report(results))
    print()
    print(queue_report(results))
    print()
    print(headroom(results))
    print()
    print(proposed_accuracy(results))


if __name__ == "__main__":
    main()
