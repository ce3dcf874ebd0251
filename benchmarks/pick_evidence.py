"""The pick a person would make (issue 24): what ``export`` picks on finished studies, and what
``train`` then delivers.

For each study (one per sampler seed; the default study by default), each arm is exported as a
user runs it (rule ``lcb``, the default re-evaluation budget, which re-evaluates on fresh
partitions and stores its trainings on the study), and each distinct pick is retrained once as
``scalesearch train`` does by default (``--fit train``), scored on the test split (and, with
``--final``, once more as ``train --final`` does: train + validation, 3x the epochs):

- ``knee:ideal``, ``knee:chord``, ``knee:marginal``: the knee definitions of
  ``search/results/export.py`` (``KNEES``); ``--pick knee`` is ``knee:<DEFAULT_KNEE>``;
- ``small``: ``--where 'params<=50000' --pick max:accuracy`` (the best model under 50K).

Each row records the pick (params, validation estimate and the stated 95 % test interval), its
test accuracy, whether it falls inside, and its stored-front neighbour check: the most accurate
useful front point under 3x its parameters (else the next larger one), and whether it offers
more than 1.5 points of validation accuracy (a pick that gives that up is a bad knee).

Studies come from ``--from DIR`` (``DIR/seed<S>/study.db``, e.g. the lead's before/after runs)
or are run here (``--run``: ``studies/digits.yaml`` with ``--set sampler.seed=S``). A study from
``--from`` is copied (SQLite backup) into the workdir first; the original is never written.
Resumable: each seed's results go to ``<workdir>/seed<S>.json`` as soon as they exist. A pick
already retrained in the ``--from`` folder (``seed<S>/*/model.yaml`` of the same trial, ``--fit
train``) is read, not retrained: ``train`` uses the trial's own seed, so it is the same model.

    PYTHONPATH=.. nice python benchmarks/pick_evidence.py --workdir /tmp/pick --from /work/bench/before
        [--seeds 0 1 2 3 4] [--arms knee:ideal small] [--report]
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

ARMS = {"knee:ideal": ("knee:ideal", []), "knee:chord": ("knee:chord", []), "knee:marginal": ("knee:marginal", []),
        "small": ("max:accuracy", ["params<=50000"])}
GIVE_UP, CHEAPER = 0.015, 3.0  # a neighbour with > 1.5 points more for < 3x the params


def _save(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(path)


def copy_db(source: Path, target: Path) -> None:
    """A consistent copy of a (possibly live) SQLite study database."""
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def neighbour(study: Any, spec: Any, trial: Any) -> dict[str, Any] | None:
    """On stored scores, the most accurate larger useful front point under 3x the params (else
    the next larger one), and whether it is a better deal: more than 1.5 points up."""
    from scalesearch.search.config.system_attrs import exact_metrics
    from scalesearch.search.results.report import complete_trials
    from scalesearch.search.results.useful import useful_front

    front = useful_front([t for t in complete_trials(study) if t.values is not None], spec)
    mine = exact_metrics(trial)
    larger = sorted((t for t in front if exact_metrics(t)["params"] > mine["params"]),
                    key=lambda t: exact_metrics(t)["params"])
    if not larger:
        return None
    near = [t for t in larger if exact_metrics(t)["params"] < CHEAPER * mine["params"]]
    best = max(near, key=lambda t: exact_metrics(t)["accuracy"]) if near else larger[0]
    other = exact_metrics(best)
    gain, ratio = other["accuracy"] - mine["accuracy"], other["params"] / mine["params"]
    return {"trial": best.number, "params": other["params"], "accuracy": other["accuracy"],
            "gain": gain, "ratio": ratio, "gives_up": gain > GIVE_UP and ratio < CHEAPER}


def reused_retrain(source: str | None, seed: int, trial: int, recipe: str = "search") -> dict[str, Any] | None:
    """A retrain of ``trial`` by ``recipe`` (``search``: ``--fit train``; ``final``: ``--final``)
    already in ``source/seed<S>/*/model.yaml`` (``train`` retrains an export with the trial's own
    seed, so the same trial and recipe give the same model)."""
    import yaml

    for card in sorted(Path(source or "/nonexistent").glob(f"seed{seed}/*/model.yaml")):
        data = yaml.safe_load(card.read_text())
        retrained = data.get("retrain") or {}
        made = retrained.get("recipe", "search" if retrained.get("fit", "train") == "train" else "other")
        if data.get("provenance", {}).get("trial") == trial and made == recipe:
            return {"test_accuracy": retrained["test_accuracy"], "seconds": round(retrained.get("train_seconds", 0), 1),
                    "reused": str(card)}
    return None


def run_seed(seed: int, args: argparse.Namespace) -> dict[str, Any]:
    import optuna

    from scalesearch.search.results.export import export_data
    from scalesearch.search.results.retrain import retrain
    from scalesearch.search.results.selection import select
    from scalesearch.search.runtime.device import set_threads
    from scalesearch.search.storage.storage import open_storage
    from scalesearch.search.study.study import load_study, stored_spec

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    workdir = Path(args.workdir)
    out, db = workdir / f"seed{seed}.json", workdir / f"seed{seed}.db"
    run = json.loads(out.read_text())["runs"][str(seed)] if out.exists() else {"picks": {}, "retrains": {}}
    state = {"runs": {str(seed): run}}
    url = f"sqlite:///{db}"
    if not db.exists():
        if args.run:
            from scalesearch.search.config.spec import load_spec
            from scalesearch.search.study.study import open_study, run_study

            study, spec = open_study(load_spec(None, [f"sampler.seed={seed}", f"study_name=pick{seed}", *args.set]), url)
            run_study(study, spec, storage_url=url)
        else:
            copy_db(Path(args.source) / f"seed{seed}" / "study.db", db)
    (name,) = optuna.get_all_study_names(url)
    study = load_study(open_storage(url, create=False), name)
    spec = stored_spec(study)
    # One thread by default: two spinning OpenMP threads per process on a busy machine crawl (a
    # re-evaluation of two trainings took 21 min at load 15 with 2 threads).
    set_threads(args.threads)
    for arm in args.arms:
        if arm in run["picks"]:
            continue
        pick, where = ARMS[arm]
        started, plans = time.monotonic(), []
        chosen = select(study, spec, pick, where, rule="lcb", on_plan=plans.append)
        data = export_data(study, spec, chosen.trial, storage_url=url, pick=pick, where=where,
                           uncertainty=chosen.estimate.to_data(), selection=chosen.provenance(2, 3))
        run["picks"][arm] = {"trial": chosen.trial.number, "export": data, "trainings": chosen.trainings,
                             "seconds": round(time.monotonic() - started, 1), "plan": plans,
                             "set_aside": chosen.set_aside, "off_front": chosen.off_front,
                             "neighbour": neighbour(study, spec, chosen.trial)}
        _save(out, state)
    for arm in args.arms:
        key = str(run["picks"][arm]["trial"])
        if key not in run["retrains"] and (found := reused_retrain(args.source, seed, int(key))):
            run["retrains"][key] = found
            _save(out, state)
        if key not in run["retrains"]:
            result = retrain(run["picks"][arm]["export"], workdir / f"seed{seed}_trial{key}", device="cpu",
                             threads=args.threads)
            run["retrains"][key] = {"test_accuracy": result.test_accuracy, "seconds": round(result.train_seconds, 1)}
            _save(out, state)
        finals = run.setdefault("final", {})
        if args.final and key not in finals:
            if not (found := reused_retrain(args.source, seed, int(key), "final")):
                result = retrain(run["picks"][arm]["export"], workdir / f"seed{seed}_trial{key}_final", device="cpu",
                                 threads=args.threads, final=True)
                found = {"test_accuracy": result.test_accuracy, "seconds": round(result.train_seconds, 1)}
            finals[key] = found
            _save(out, state)
    return run


def load(workdir: Path) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    for path in sorted(workdir.glob("seed*.json")):
        runs |= json.loads(path.read_text())["runs"]
    return {"runs": runs}


def rows(state: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (seed, arm) that has its retrain."""
    out = []
    for seed, run in sorted(state["runs"].items(), key=lambda kv: int(kv[0])):
        for arm, pick in run["picks"].items():
            retrained = run["retrains"].get(str(pick["trial"]))
            if retrained is None:
                continue
            u = pick["export"]["uncertainty"]
            low, high = u["test_interval"]
            test = retrained["test_accuracy"]
            near = pick.get("neighbour") or {}
            final = run.get("final", {}).get(str(pick["trial"]))
            out.append({"seed": int(seed), "arm": arm, "trial": pick["trial"],
                        "params": pick["export"]["metrics"]["params"], "estimate": u["accuracy"], "seeds": u["seeds"],
                        "low": low, "high": high, "test": test, "inside": low <= test <= high,
                        "final": final["test_accuracy"] if final else None,
                        "gives_up": bool(near.get("gives_up")), "trainings": pick["trainings"]})
    return out


def _mean_se(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else math.nan)


def summary(table: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per arm: mean test accuracy (SE), geometric mean and largest params, coverage with its
    Wilson 95 % interval, bad-knee count; paired test-accuracy differences against knee:ideal."""
    from scalesearch.search.results.uncertainty import wilson

    out = {}
    base = {r["seed"]: r["test"] for r in table if r["arm"] == "knee:ideal"}
    for arm in dict.fromkeys(r["arm"] for r in table):
        mine = [r for r in table if r["arm"] == arm]
        mean, se = _mean_se([r["test"] for r in mine])
        inside = sum(r["inside"] for r in mine)
        diffs = [r["test"] - base[r["seed"]] for r in mine if r["seed"] in base]
        final = [r for r in mine if r.get("final") is not None]  # picks also retrained with --final
        out[arm] = {"n": len(mine), "mean_test": mean, "se_test": se, "inside": inside,
                    "coverage": wilson(inside / len(mine), len(mine)),
                    "geo_params": math.exp(statistics.fmean(math.log(r["params"]) for r in mine)),
                    "max_params": max(r["params"] for r in mine), "gives_up": sum(r["gives_up"] for r in mine),
                    "vs_ideal": _mean_se(diffs) if diffs and arm != "knee:ideal" else None,
                    "final": _mean_se([r["final"] for r in final]) if final else None,
                    "final_gain": _mean_se([r["final"] - r["test"] for r in final]) if final else None}
    return out


def markdown(table: list[dict[str, Any]], summ: dict[str, dict[str, Any]]) -> str:
    lines = ["| seed | arm | trial | params | validation estimate (seeds) | stated 95 % test interval | test accuracy "
             "| inside | bad knee |", "|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        lines.append(f"| {r['seed']} | {r['arm']} | {r['trial']} | {r['params'] / 1000:.3g}K | {r['estimate']:.4f} "
                     f"({r['seeds']}) | [{r['low']:.4f}, {r['high']:.4f}] | {r['test']:.4f} "
                     f"| {'yes' if r['inside'] else 'no'} | {'yes' if r['gives_up'] else 'no'} |")
    lines += ["", "| arm | studies | mean test (SE) | vs knee:ideal, paired (SE) | geo-mean params | largest "
              "| inside (95 % Wilson) | bad knees |", "|---|---|---|---|---|---|---|---|"]
    for arm, s in summ.items():
        vs = "-" if s["vs_ideal"] is None else f"{s['vs_ideal'][0]:+.4f} ({s['vs_ideal'][1]:.4f})"
        lines.append(f"| {arm} | {s['n']} | {s['mean_test']:.4f} ({s['se_test']:.4f}) | {vs} "
                     f"| {s['geo_params'] / 1000:.3g}K | {s['max_params'] / 1000:.3g}K "
                     f"| {s['inside']}/{s['n']} [{s['coverage'][0]:.2f}, {s['coverage'][1]:.2f}] | {s['gives_up']} |")
    return "\n".join(lines)


def section(table: list[dict[str, Any]], default: str = "knee:ideal") -> str:
    """The issue's one table: per seed the default export and the best <= 50K model, each with its
    params, validation estimate, stated test interval, retrained test accuracy and whether inside;
    then per arm the mean test accuracy (SE) and the coverage with its Wilson interval."""
    by = {(r["seed"], r["arm"]): r for r in table}
    cell = lambda r: "| - | - | - | - | - | - " if r is None else (  # noqa: E731
        f"| {r['params'] / 1000:.3g}K | {r['estimate']:.4f} | [{r['low']:.4f}, {r['high']:.4f}] | {r['test']:.4f} "
        f"| {'yes' if r['inside'] else 'no'} | {'-' if r['final'] is None else format(r['final'], '.4f')} ")
    lines = ["| seed | default: params | estimate | 95 % test interval | test | inside | --final | best <= 50K: params "
             "| estimate | 95 % test interval | test | inside | --final |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for seed in sorted({r["seed"] for r in table}):
        lines.append(f"| {seed} {cell(by.get((seed, default)))}{cell(by.get((seed, 'small')))}|")
    summ = summary(table)
    for arm in (default, "small"):
        if arm in summ:
            s = summ[arm]
            lines.append(f"\n{'default export' if arm == default else 'best <= 50K'}: mean test {s['mean_test']:.4f} "
                         f"(SE {s['se_test']:.4f}), largest {s['max_params'] / 1000:.3g}K params, inside "
                         f"{s['inside']}/{s['n']} (95 % Wilson [{s['coverage'][0]:.2f}, {s['coverage'][1]:.2f}])"
                         + ("" if s["final"] is None else
                            f"; --final: mean test {s['final'][0]:.4f} (SE {s['final'][1]:.4f}), "
                            f"paired against the search's recipe {s['final_gain'][0]:+.4f} (SE {s['final_gain'][1]:.4f})"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", required=True, help="folder for the study copies, retrains and the JSON")
    parser.add_argument("--from", dest="source", help="folder holding seed<S>/study.db (copied, never written)")
    parser.add_argument("--run", action="store_true", help="run the studies here instead (studies/digits.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="spec override with --run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="study (sampler) seeds")
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS), help="what to export")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for re-evaluation and retraining")
    parser.add_argument("--final", action="store_true", help="also retrain each pick with train --final (train+val, 3x the epochs)")
    parser.add_argument("--report", action="store_true", help="print the tables from the JSON; run nothing")
    args = parser.parse_args(argv)
    if not args.report and not (args.run or args.source):
        parser.error("give --from DIR (studies to copy) or --run (run them here), or --report")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if not args.report:
        for seed in args.seeds:
            run_seed(seed, args)
            print(f"seed {seed} done", flush=True)
    table = rows(load(workdir))
    print(markdown(table, summary(table)))
    print()
    print(section(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
