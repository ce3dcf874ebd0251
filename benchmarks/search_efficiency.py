"""Search efficiency: what early stopping buys, measured in training epochs.

Three arms search the same space with the same seeds and the same total budget of training
epochs (``budget.max_epochs``), on digits:

  a  TPE + early stopping (the spec's ``early_stopping``, asha by default)
  b  TPE, every trial trained in full
  c  random sampling, every trial trained in full

For each run it records the hypervolume of the validation Pareto front of the COMPLETE trials
(accuracy vs params, params on a log scale, fixed reference point) after every trial, against
the cumulative training epochs the study has spent (pruned trials included). It writes the
numbers (JSON), a plot (PNG) and a table into ``docs/benchmarks.md`` (section "Search
efficiency", replaced in place).

    python benchmarks/search_efficiency.py                       # the full run (see docs/benchmarks.md)
    python benchmarks/search_efficiency.py --seeds 0 --trials 4 --epochs 9   # a smoke run
    python benchmarks/search_efficiency.py --report-only         # redo the table/plot from the JSON
    python benchmarks/search_efficiency.py --resume              # run only what the JSON lacks

A full run takes hours on two cores, so the JSON is rewritten after every finished run, and
``--resume`` keeps each saved run made with the same settings and code (for arm (a), also the
same early-stopping rule and options) and runs only the missing or outdated ones.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from scalesearch.search.config.system_attrs import trial_config
from scalesearch.search.results.hypervolume import hypervolume as dominated_volume
from scalesearch.search.results.pareto import pareto_indices

sys.path.insert(0, str(Path(__file__).resolve().parent))
from processes import die_with_parent  # noqa: E402  (a sibling script of this folder)

ROOT = Path(__file__).resolve().parent.parent

ARMS = {
    "a": {"label": "TPE + early stopping", "sampler": "tpe", "early_stopping": None},
    "b": {"label": "TPE, no early stopping", "sampler": "tpe", "early_stopping": "none"},
    "c": {"label": "random, no early stopping", "sampler": "random", "early_stopping": "none"},
}
#: Hypervolume reference: a model below 90 % validation accuracy on digits is not worth keeping
#: (a linear model gets ~96 %), and 10^7 params is above the largest model in small_cnn (~3e6).
REFERENCE = (0.90, 7.0)  # (accuracy, log10 params)
SECTION = "## Search efficiency"
BEGIN, END = "<!-- search_efficiency:begin -->", "<!-- search_efficiency:end -->"
JSON = "search_efficiency.json"
MIN_SEEDS = 3  # the acceptance is a median over at least this many seeds


def hypervolume(points: list[tuple[float, float]]) -> float:
    """HV of ``(accuracy, params)`` points: accuracy maximised, log10(params) minimised."""
    accuracy_ref, log_params_ref = REFERENCE
    return dominated_volume([(-a, math.log10(p)) for a, p in points], (-accuracy_ref, log_params_ref))


# --------------------------------------------------------------------------- one run


RULE = ROOT / "search" / "study" / "early_stopping.py"


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def code_digest() -> str:
    """Fingerprint of the code and presets arms (b) and (c) depend on: ``spaces/`` and ``search/``
    except the early-stopping rule, so ``--resume`` re-runs only (a) after the rule changes."""
    paths = [*(ROOT / "spaces").rglob("*"), *(ROOT / "search").rglob("*")]
    return _digest([p for p in paths if p.suffix in (".py", ".yaml") and p != RULE])


def rule_digest() -> str:
    """Fingerprint of the early-stopping rule (what arm (a) depends on besides the rest)."""
    return _digest([RULE])


def run_arm(arm: str, seed: int, epochs: int, max_epochs: int, workdir: str, shared: list[str],
            early_stopping: list[str]) -> dict[str, Any]:
    """One study; returns its trials in completion order with the epochs each spent."""
    import warnings

    import optuna

    from scalesearch.search.config.spec import load_spec
    from scalesearch.search.study.study import load_data, open_study, run_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    settings = ARMS[arm]
    overrides = [
        f"study_name=efficiency-{arm}-{seed}", f"seed={seed}", f"sampler.seed={seed}",
        f"sampler.name={settings['sampler']}", f"space.training.epochs={epochs}",
        "budget.n_trials=100000", f"budget.max_epochs={max_epochs}", "device=cpu", "threads=1", *shared,
    ]
    if settings["early_stopping"]:
        overrides.append(f"early_stopping.name={settings['early_stopping']}")
    else:
        overrides += [f"early_stopping.{item}" for item in early_stopping]  # the rule under test
    spec = load_spec(None, overrides)
    study, spec = open_study(spec, f"sqlite:///{Path(workdir) / f'{arm}-{seed}.db'}")
    data = load_data(spec.dataset, spec.space.input_size, "cpu")
    run_study(study, spec, data=data, device="cpu")  # resumes a study left in ``workdir``
    trials = sorted((t for t in study.trials if t.datetime_complete), key=lambda t: t.datetime_complete)
    seconds = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in trials if t.datetime_start)
    rows = [{
        "number": t.number,
        "state": t.state.name,
        "epochs": int(t.user_attrs.get("ss.epochs_run", 0)),
        "accuracy": t.values[0] if t.state.name == "COMPLETE" else None,
        "params": t.user_attrs.get("ss.params"),
        "family": trial_config(t).get("family"),
    } for t in trials]
    return {"arm": arm, "seed": seed, "seconds": seconds, "code": code_digest(), "rule": rule_digest(),
            "early_stopping": spec.early_stopping.__dict__,
            "schedule": spec.space.training.get("schedule"), "trials": rows}


# --------------------------------------------------------------------------- analysis


def curve(run: dict[str, Any]) -> list[tuple[int, float]]:
    """``(cumulative epochs, hypervolume)`` after each finished trial."""
    spent, front, out = 0, [], [(0, 0.0)]
    for t in run["trials"]:
        spent += t["epochs"]
        if t["state"] == "COMPLETE":
            front.append((t["accuracy"], t["params"]))
        out.append((spent, hypervolume(front)))
    return out


def hv_at(points: list[tuple[int, float]], epochs: float) -> float:
    """Hypervolume reached within ``epochs`` (trials that finished by then)."""
    return max([hv for e, hv in points if e <= epochs], default=0.0)


def epochs_to_reach(points: list[tuple[int, float]], target: float) -> float:
    return next((e for e, hv in points if hv >= target), math.inf)


def perfect_pruning(run: dict[str, Any], first_rung: int) -> float:
    """Epochs a hindsight oracle needs to reach ``run``'s own final hypervolume by pruning alone.

    It replays the run's complete trials in order, stops every trial that is not on the run's
    final front at ``first_rung`` epochs and trains the others in full. No rule can beat it on
    the same trials, so if it is near a third of the budget, only a sampler that finds a better
    front with fewer complete trials can meet the target.
    """
    done = [t for t in run["trials"] if t["state"] == "COMPLETE"]
    points = [(t["accuracy"], math.log10(t["params"])) for t in done]
    front = set(pareto_indices(points, ["maximize", "minimize"]))
    target = hypervolume([(t["accuracy"], t["params"]) for t in done])
    spent, kept = 0, []
    for i, t in enumerate(done):
        if i not in front:
            spent += min(first_rung, t["epochs"])
            continue
        spent += t["epochs"]
        kept.append((t["accuracy"], t["params"]))
        if hypervolume(kept) >= target - 1e-12:  # the same front, summed in another order
            return spent
    return math.inf


def first_rung(runs: list[dict[str, Any]], epochs: int) -> int:
    """Where arm (a)'s rule first compares a trial with the per-trial budget ``epochs``."""
    from scalesearch.search.study.early_stopping import ParetoASHA

    es = next((r["early_stopping"] for r in runs if r["arm"] == "a"), {})
    rungs = ParetoASHA(["accuracy"], min_epochs=es.get("min_epochs", 3), eta=es.get("eta", 3.0)).rungs(epochs)
    return rungs[0] if rungs else epochs


def summarize(runs: list[dict[str, Any]], max_epochs: int, epochs: int) -> dict[str, Any]:
    by = {(r["arm"], r["seed"]): r for r in runs}
    seeds = sorted({r["seed"] for r in runs})
    rung = first_rung(runs, epochs)
    rows = []
    for seed in seeds:
        curves = {arm: curve(by[arm, seed]) for arm in ARMS if (arm, seed) in by}
        final = {arm: hv_at(c, max_epochs) for arm, c in curves.items()}
        row: dict[str, Any] = {"seed": seed, "final": final}
        row["trials"] = {arm: len(by[arm, seed]["trials"]) for arm in curves}
        row["complete"] = {arm: sum(t["state"] == "COMPLETE" for t in by[arm, seed]["trials"]) for arm in curves}
        row["seconds"] = {arm: by[arm, seed]["seconds"] for arm in curves}
        if "a" in curves and "b" in curves:
            reach = epochs_to_reach([p for p in curves["a"] if p[0] <= max_epochs], final["b"])
            row["a_reaches_b_at"] = reach
            row["a_reaches_b_fraction"] = reach / max_epochs
            row["a_vs_b"] = final["a"] / final["b"] - 1 if final["b"] > 0 else math.nan
        if "b" in curves:
            row["oracle_fraction"] = perfect_pruning(by["b", seed], rung) / max_epochs
            if final["b"] > 0:  # the anytime view: how much of (b)'s final front each arm holds early
                row["share_at_third"] = {arm: hv_at(c, max_epochs / 3) / final["b"] for arm, c in curves.items()}
        rows.append(row)
    out: dict[str, Any] = {"max_epochs": max_epochs, "reference": REFERENCE, "seeds": rows}
    paired = [r for r in rows if "a_reaches_b_fraction" in r]  # seeds with both (a) and (b)
    if paired:
        out["paired_seeds"] = len(paired)
        out["median_fraction"] = statistics.median(r["a_reaches_b_fraction"] for r in paired)
        out["median_a_vs_b"] = statistics.median(r["a_vs_b"] for r in paired)
        out["accepted"] = (len(paired) >= MIN_SEEDS and out["median_fraction"] <= 1 / 3
                           and out["median_a_vs_b"] >= -0.02)
    oracles = [r["oracle_fraction"] for r in rows if "oracle_fraction" in r]
    if oracles:
        out["median_oracle_fraction"] = statistics.median(oracles)
    return out


# --------------------------------------------------------------------------- outputs


def plot(runs: list[dict[str, Any]], max_epochs: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = list(range(0, max_epochs + 1, max(1, max_epochs // 200)))
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    colors = {"a": "tab:blue", "b": "tab:orange", "c": "tab:gray"}
    for arm, settings in ARMS.items():
        curves = [curve(r) for r in runs if r["arm"] == arm]
        if not curves:
            continue
        values = [[hv_at(c, e) for c in curves] for e in grid]
        ax.step(grid, [statistics.median(v) for v in values], where="post", color=colors[arm],
                label=f"({arm}) {settings['label']}")
        ax.fill_between(grid, [min(v) for v in values], [max(v) for v in values], step="post",
                        color=colors[arm], alpha=0.15, linewidth=0)
    ax.axvline(max_epochs / 3, color="k", linestyle=":", linewidth=1)
    ax.text(max_epochs / 3, ax.get_ylim()[0], " 1/3 of the budget", va="bottom", fontsize=8)
    ax.set_xlabel("cumulative training epochs (all trials, pruned included)")
    ax.set_ylabel("hypervolume (accuracy x log10 params)")
    ax.set_title(f"digits, validation Pareto front; median and range over {len({r['seed'] for r in runs})} seeds")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def table(summary: dict[str, Any]) -> str:
    arms = [a for a in ARMS if any(a in r["final"] for r in summary["seeds"])] or list(ARMS)
    names = "/".join(arms)
    head = ("| seed | " + " | ".join(f"HV ({a})" for a in arms) + f" | trials {names} (complete) "
            "| (a) reaches (b)'s final HV at | perfect pruning of (b)'s trials reaches it at | (a) vs (b) final "
            f"| share of (b)'s final HV held at 1/3 of the budget, {names} | minutes {names} |")
    lines = [head, "|" + "---|" * (len(arms) + 7)]
    for r in summary["seeds"]:
        hv = " | ".join(f"{r['final'].get(a, math.nan):.4f}" for a in arms)
        trials = " / ".join(f"{r['trials'].get(a, 0)} ({r['complete'].get(a, 0)})" for a in arms)
        reach = r.get("a_reaches_b_at", math.inf)
        reach_text = "never" if math.isinf(reach) else f"{reach} epochs ({r['a_reaches_b_fraction']:.0%})"
        minutes = " / ".join(f"{r['seconds'].get(a, 0) / 60:.1f}" for a in arms)
        oracle = r.get("oracle_fraction", math.nan)
        share = " / ".join(f"{r['share_at_third'][a]:.0%}" for a in arms) if "share_at_third" in r else "-"
        lines.append(f"| {r['seed']} | {hv} | {trials} | {reach_text} | {oracle:.0%} "
                     f"| {r.get('a_vs_b', math.nan):+.1%} | {share} | {minutes} |")
    if "median_fraction" in summary:
        lines.append("")
        verdict = "met" if summary["accepted"] else "NOT met"
        if summary["paired_seeds"] < MIN_SEEDS:
            verdict += f" (only {summary['paired_seeds']} seed(s) with both (a) and (b); the target needs {MIN_SEEDS})"
        median = summary["median_fraction"]
        reach = "**never** within" if math.isinf(median) else f"with **{median:.0%}** of"
        lines.append(f"Median over seeds: (a) reaches (b)'s final hypervolume {reach} "
                     f"the epoch budget (target <= 33 %), and its final "
                     f"hypervolume is **{summary['median_a_vs_b']:+.1%}** against (b) (target >= -2 %): {verdict}.")
    if "median_oracle_fraction" in summary:
        lines.append(f"A hindsight oracle that prunes (b)'s own trials perfectly (every trial not on (b)'s final "
                     f"front stopped at the first rung) needs **{summary['median_oracle_fraction']:.0%}** (median).")
    return "\n".join(lines)


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (as docs cite it), else as given."""
    resolved = path.resolve()
    return resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else str(path)


def write_doc(doc: Path, body: str) -> None:
    block = f"{BEGIN}\n{body}\n{END}"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{block}\n"
    doc.write_text(text)


def report(results: dict[str, Any], out: Path, command: str) -> dict[str, Any]:
    runs, max_epochs = results["runs"], results["max_epochs"]
    summary = summarize(runs, max_epochs, results["epochs"])
    png = out / "search_efficiency.png"
    plot(runs, max_epochs, png)
    es = next((r["early_stopping"] for r in runs if r["arm"] == "a"), {})
    body = (
        f"Measured by `{command}`; {results['epochs']} epochs per trial, a budget of {max_epochs} training "
        f"epochs per run (= {max_epochs // results['epochs']} full trials), seeds {sorted({r['seed'] for r in runs})}; "
        f"early stopping in (a): `{json.dumps(es)}`. Hypervolume of the COMPLETE trials' validation front, "
        f"reference point accuracy {REFERENCE[0]}, params 10^{REFERENCE[1]:g}. "
        f"Raw numbers: `{_shown(out / JSON)}`.\n\n"
        f"![hypervolume against epochs](search_efficiency.png)\n\n{table(summary)}"
    )
    write_doc(out / "benchmarks.md", body)
    save(out, results | {"summary": summary})
    return summary


def resumable(out: Path, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """The saved runs in ``out`` that ``settings`` would reproduce: same epochs, budget and
    overrides (else one clear line and exit), and the same code in ``spaces/`` and ``search/``;
    an arm (a) run also needs the same early-stopping rule and options. Outdated runs are
    dropped (and named), to be run again."""
    path = out / JSON
    if not path.exists():
        return []
    old = json.loads(path.read_text())
    keys = ("epochs", "max_epochs", "overrides")
    if any(old.get(k) != settings[k] for k in keys):
        raise SystemExit(f"--resume: {path} holds runs with other --epochs/--trials/--set settings; "
                         f"run without --resume to replace them")
    code, rule = code_digest(), rule_digest()
    kept = []
    for r in old["runs"]:
        current = r.get("code") == code and (r["arm"] != "a" or (
            r.get("rule") == rule and old.get("early_stopping_options", []) == settings["early_stopping_options"]))
        if current:
            kept.append(r)
        else:
            print(f"arm {r['arm']} seed {r['seed']}: saved run made with other code, rule or "
                  f"early-stopping options; running it again")
    return kept


def save(out: Path, results: dict[str, Any]) -> None:
    """Write the runs so far (atomically: an interrupted write never loses the saved runs)."""
    path = out / JSON
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=1, default=str))
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=27, help="epoch budget of one trial (default 27)")
    p.add_argument("--trials", type=int, default=20,
                   help="total budget of each run, in full trials: max_epochs = trials x epochs (default 20)")
    p.add_argument("--arms", default="abc", help="which arms to run (default abc)")
    p.add_argument("--jobs", type=int, default=2, help="runs in parallel, one CPU thread each (default 2)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="spec override for every arm, e.g. --set space.training.schedule=cosine")
    p.add_argument("--early-stopping", action="append", default=[], metavar="KEY=VALUE",
                   help="early-stopping setting for arm (a), e.g. --early-stopping min_epochs=1")
    p.add_argument("--out", type=Path, default=ROOT / "docs")
    p.add_argument("--workdir", type=Path, help="keep the study databases here (default: a temporary folder)")
    p.add_argument("--resume", action="store_true",
                   help="keep the runs saved in --out that these settings and this code would reproduce "
                        "(all of them are reported); run only the missing ones")
    p.add_argument("--report-only", action="store_true", help="rebuild the table and plot from the JSON")
    args = p.parse_args(argv)
    command = "python benchmarks/search_efficiency.py " + " ".join(argv if argv is not None else sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        results = json.loads((args.out / JSON).read_text())
        print(table(report(results, args.out, results["command"])))
        return 0
    max_epochs = args.trials * args.epochs
    results: dict[str, Any] = {"command": command.strip(), "epochs": args.epochs, "max_epochs": max_epochs,
                               "overrides": args.overrides, "early_stopping_options": args.early_stopping}
    runs = resumable(args.out, results) if args.resume else []  # all of them go into the report
    done = {(r["arm"], r["seed"]) for r in runs}
    todo = [(seed, arm) for seed in args.seeds for arm in args.arms if (arm, seed) not in done]
    for r in runs:
        print(f"arm {r['arm']} seed {r['seed']}: saved, {len(r['trials'])} trials", flush=True)
    with tempfile.TemporaryDirectory(prefix="ss-efficiency-") as tmp, \
            ProcessPoolExecutor(args.jobs, initializer=die_with_parent) as pool:
        workdir = args.workdir or tmp
        Path(workdir).mkdir(parents=True, exist_ok=True)
        jobs = [pool.submit(run_arm, arm, seed, args.epochs, max_epochs, str(workdir), args.overrides,
                            args.early_stopping)
                for seed, arm in todo]
        for job in as_completed(jobs):
            r = job.result()
            runs.append(r)
            runs.sort(key=lambda r: (r["seed"], r["arm"]))
            save(args.out, results | {"runs": runs})
            print(f"arm {r['arm']} seed {r['seed']}: {len(r['trials'])} trials in {r['seconds'] / 60:.1f} min "
                  f"(saved)", flush=True)
    results["runs"] = runs
    summary = report(results, args.out, results["command"])
    print(table(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
