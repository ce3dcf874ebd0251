"""How good are the default study's small models? Issue 25's protocol, for any arm of code.

For each seed, in ``WORKDIR/seedN``: run the default study (``studies/digits.yaml``, its own
24 trials, ``--set sampler.seed=N``, study name ``dN`` in ``study.db``), then export and retrain
(``scalesearch train``: the train split, test accuracy on the held-out test split; and again
with ``train --final``: train + validation, 3x the epochs) two picks:
the best model of at most 50K params (``export --where 'params<=50000' --pick max:accuracy``,
the default ``lcb`` rule) and the best model, by the single top score (``export --pick max:accuracy
--rule single``) and by the default ``lcb`` rule (``--pick max:accuracy``; its re-evaluation of
the largest models takes minutes per seed). ``--threads N`` runs the study and the retraining on N CPU threads (on a machine
shared with other work, 1: torch's threads then stop spinning against each other). Each step
is skipped when its output is there, so a run resumes; ``time.txt`` holds the study's wall and
CPU seconds. The code under test is whatever ``scalesearch`` imports, so an arm is
run from a snapshot of a commit (``PYTHONPATH=/work/snap/NAME``).

The report reads each arm's folder: the two retrained test accuracies, the hypervolume of the
study's validation front (COMPLETE trials, accuracy against log10 params, reference point
accuracy 0.90 and 10^7 params, as ``benchmarks/search_efficiency.py``) and the study's wall
time (``time.txt``), each as mean and standard error over seeds, plus the paired difference
against the first arm.

    PYTHONPATH=/work/snap/after python benchmarks/small_models.py run --workdir /work/bench/after --seeds 0 1 2 3 4 --threads 1
    python benchmarks/small_models.py report before=/work/bench/before after=/work/bench/after
    python benchmarks/small_models.py report big=/tmp/b200 --study-name-format b{seed}   # one 200-trial study
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_efficiency import hypervolume  # noqa: E402  (a sibling script of this folder)

SMALL = "params<=50000"
#: ``train``'s final test accuracy line, before and after it named each step ("test accuracy
#: 0.95 after 6.5s" then "test accuracy 0.95 (the model as saved) after 6.5s").
TEST_ACCURACY = re.compile(r"test accuracy (\d\.\d+) (?:\([^)]*\) )?after")


def _cli(args: list[str], log: Path, cwd: Path) -> tuple[float, float]:
    """Run ``scalesearch ARGS`` in ``cwd`` with output to ``log``; its wall and CPU seconds."""
    import resource

    started, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    with log.open("w") as out:
        done = subprocess.run([sys.executable, "-m", "scalesearch.cli", *args], cwd=cwd, stdout=out,
                              stderr=subprocess.STDOUT, env=os.environ.copy())
    if done.returncode != 0:
        raise SystemExit(f"scalesearch {' '.join(args)} failed (exit {done.returncode}); see {log}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - started, cpu


DIGITS = {"wall": 0, "cpu": 0}  # decimals per column; accuracies and HV: 4
PICKS = {"small": [f"--where={SMALL}"], "best": ["--rule", "single"], "lcb": []}
#: How each pick is retrained: as searched (the train split, the searched epochs: what the
#: export's interval states) and with ``train --final`` (train + validation, 3x the epochs).
RECIPES = {"": [], "_final": ["--final"]}


def run_seed(workdir: Path, seed: int, extra: list[str], threads: int | None = None) -> None:
    """The protocol for one seed; each step skipped when its output exists."""
    d = workdir / f"seed{seed}"
    d.mkdir(parents=True, exist_ok=True)
    storage, name = "sqlite:///study.db", f"d{seed}"
    if threads is not None:
        extra = [*extra, "--set", f"threads={threads}"]
    if not (d / "study.done").exists():
        wall, cpu = _cli(["run", "--set", f"sampler.seed={seed}", *extra, "--storage", storage, "--study-name", name],
                         d / "run.log", d)
        (d / "time.txt").write_text(f"{wall:.2f} s wall\n{cpu:.2f} s cpu\n")
        (d / "study.done").touch()
    for pick, how in PICKS.items():
        if not (d / f"{pick}.yaml").exists():
            _cli(["export", "--storage", storage, "--study-name", name, *how, "--pick", "max:accuracy",
                  "-o", f"{pick}.yaml"], d / f"export_{pick}.log", d)
        on = ["--threads", str(threads)] if threads is not None else []
        for recipe, flags in RECIPES.items():
            if not (d / f"{pick}{recipe}_model").exists():
                _cli(["train", f"{pick}.yaml", *flags, "-o", f"{pick}{recipe}_model", *on], d / f"train_{pick}{recipe}.log", d)


# --------------------------------------------------------------------------- report


def _test_accuracy(log: Path) -> float | None:
    match = TEST_ACCURACY.search(log.read_text()) if log.exists() else None
    return float(match.group(1)) if match else None


def _study_hv(db: Path, name: str) -> tuple[float, int]:
    """HV of the COMPLETE trials' (accuracy, params) and their count."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{db}")
    points = [(t.values[0], t.values[1]) for t in study.get_trials(deepcopy=False)
              if t.state.name == "COMPLETE" and t.values]
    return hypervolume(points), len(points)


def _times(path: Path) -> dict[str, float]:
    """``{"wall": s, "cpu": s}`` from lines ``<seconds> s wall`` / ``<seconds> s cpu`` (either may lack)."""
    if not path.exists():
        return {}
    return {parts[2]: float(parts[0]) for line in path.read_text().splitlines()
            if len(parts := line.split()) == 3 and parts[1] == "s"}


def arm_rows(folder: Path, name_format: str) -> dict[int, dict[str, Any]]:
    """Seed -> {small, best, hv, trials, wall} for each ``seedN`` folder with a finished study."""
    rows = {}
    for d in sorted(folder.glob("seed*")):
        seed = int(d.name[4:])
        if not (d / "study.done").exists():
            continue
        hv, trials = _study_hv(d / "study.db", name_format.format(seed=seed))
        times = _times(d / "time.txt")
        rows[seed] = {f"{pick}{recipe}": _test_accuracy(d / f"train_{pick}{recipe}.log")
                      for pick in PICKS for recipe in RECIPES}
        rows[seed] |= {"hv": hv, "trials": trials, "wall": times.get("wall", math.nan), "cpu": times.get("cpu", math.nan)}
    return rows


def mean_se(values: list[float], digits: int = 4) -> str:
    """``mean ± standard error`` over seeds, ``digits`` decimals (seconds: 0)."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f} (1 seed)"
    se = statistics.stdev(values) / math.sqrt(len(values))
    return f"{statistics.fmean(values):.{digits}f} ± {se:.{digits}f}"


def report(arms: dict[str, Path], name_format: str) -> str:
    data = {label: arm_rows(folder, name_format) for label, folder in arms.items()}
    columns = (("small", "best ≤ 50K, test acc."), ("best", "best model, test acc."),
               ("small_final", "best ≤ 50K, --final"), ("best_final", "best model, --final"),
               ("lcb", "best model (lcb), test acc."), ("lcb_final", "best model (lcb), --final"),
               ("hv", "hypervolume"), ("wall", "study wall s"), ("cpu", "study CPU s"))
    lines = ["| arm | seeds | " + " | ".join(title for _, title in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for label, rows in data.items():
        cells = [mean_se([r[key] for r in rows.values()], DIGITS.get(key, 4)) for key, _ in columns]
        lines.append(f"| {label} | {','.join(map(str, rows))} | " + " | ".join(cells) + " |")
    first = next(iter(data))
    for label, rows in list(data.items())[1:]:
        seeds = sorted(set(rows) & set(data[first]))
        diffs = []
        for key, _ in columns:
            pairs = [rows[s][key] - data[first][s][key] for s in seeds
                     if rows[s][key] is not None and data[first][s][key] is not None]
            diffs.append(mean_se(pairs, DIGITS.get(key, 4)))
        lines.append(f"| {label} − {first} (paired) | {','.join(map(str, seeds))} | " + " | ".join(diffs) + " |")
    per_seed = ["", "| arm | seed | best ≤ 50K | best | ≤ 50K --final | best --final | lcb | lcb --final | HV | trials "
                "| wall s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, rows in data.items():
        for seed, r in rows.items():
            per_seed.append(f"| {label} | {seed} | {r['small']} | {r['best']} | {r['small_final']} | {r['best_final']} "
                            f"| {r['lcb']} | {r['lcb_final']} "
                            f"| {r['hv']:.4f} | {r['trials']} | {r['wall']:.0f} |")
    return "\n".join(lines + per_seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the protocol for the seeds into WORKDIR")
    run.add_argument("--workdir", type=Path, required=True)
    run.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    run.add_argument("--set", action="append", default=[], help="extra --set for the study (e.g. budget.n_trials=6)")
    run.add_argument("--threads", type=int, default=None, help="CPU threads for the study and the retraining")
    rep = sub.add_parser("report", help="the table for LABEL=FOLDER arms (the first is the baseline)")
    rep.add_argument("arms", nargs="+", help="LABEL=FOLDER")
    rep.add_argument("--study-name-format", default="d{seed}")
    args = parser.parse_args()
    if args.command == "run":
        for seed in args.seeds:
            run_seed(args.workdir, seed, [x for s in args.set for x in ("--set", s)], args.threads)
            print(f"seed {seed} done", flush=True)
    else:
        arms = dict(a.split("=", 1) for a in args.arms)
        print(report({k: Path(v) for k, v in arms.items()}, args.study_name_format))


if __name__ == "__main__":
    main()
