"""Selection under noise (issue 19): what ``export`` promises against what ``train`` delivers.

For each study seed S, the default study (``studies/digits.yaml`` with ``--set sampler.seed=S``
and any ``--set`` given here) runs in ``<workdir>/seed<S>.db``. Then ``export --pick knee`` chooses
a trial by each rule, and ``train`` retrains it and scores the held-out test split, twice: with
``--fit train`` (the default: the search's protocol, which the interval states; the gap and the
inside count use it) and with ``--fit train+val`` (more data; reported beside it, not judged):

- ``single`` (the old rule): the knee on each trial's one stored validation score; its promise is
  that score, its interval the Wilson interval of one seed (seed spread unknown);
- ``lcb`` (the new default): the top M candidates get K more seeds, the knee is taken on the
  lower confidence bound; its promise is the mean over seeds, with the interval export states;
- ``mean``: as ``lcb`` but the knee is taken on the mean over seeds (the stored seeds are reused).

``lcb`` and ``mean`` re-evaluate as ``export`` does by default: each extra seed on a fresh
stratified train/validation partition of the study's train + validation images, the promise
read from those (``search/results/reeval.py``); ``--same-split`` re-evaluates on the study's own
split and reads the trial's own score too, as before re-splitting existed (use another workdir).

Per rule: the gap (promise - test accuracy), its mean and mean absolute value, and how many test
accuracies fall inside the stated 95 % test interval. ``single`` is exported before any
re-evaluation, so its promise is the one score a user saw before this change.

Resumable and bounded: a study resumes to its budget; each export and retrain is written to
``<workdir>/seed<S>.json`` as soon as it exists and is not redone; retraining is done once per
chosen trial (the rules often agree). Seeds may run as parallel processes on one workdir (each
writes only its own files); ``--report`` prints the tables of every ``seed*.json`` there.

    PYTHONPATH=.. nice python benchmarks/selection_noise.py --workdir /tmp/sn [--seeds 0 1 2 3 4]
        [--reeval-seeds 2] [--reeval-top 3] [--same-split] [--set budget.n_trials=24 ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

RULES = ("single", "lcb", "mean")


def _load(workdir: Path) -> dict[str, Any]:
    """Every seed's results in ``workdir``, as ``{"runs": {seed: run}}``."""
    runs = {}
    for path in sorted(workdir.glob("seed*.json")):
        runs |= json.loads(path.read_text())["runs"]
    return {"runs": runs}


def _save(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(path)


def run_seed(seed: int, args: argparse.Namespace, state: dict[str, Any]) -> dict[str, Any]:
    import optuna

    from scalesearch.search.config.spec import load_spec
    from scalesearch.search.results.export import export_data
    from scalesearch.search.results.retrain import retrain
    from scalesearch.search.results.selection import select
    from scalesearch.search.runtime.device import set_threads
    from scalesearch.search.study.study import open_study, run_study

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    run = state["runs"].setdefault(str(seed), {"picks": {}, "retrains": {}})
    workdir = Path(args.workdir)
    out = workdir / f"seed{seed}.json"
    state = {"runs": {str(seed): run}, "settings": state["settings"]}
    url = f"sqlite:///{workdir / f'seed{seed}.db'}"
    spec = load_spec(None, [f"sampler.seed={seed}", f"study_name=noise{seed}", *args.set])
    study, spec = open_study(spec, url)
    # The study's threads for the re-evaluations too (run_study sets them, but a finished study is not run
    # again): two spinning OpenMP threads per process on a busy machine crawl.
    set_threads(spec.threads)
    if "study_seconds" not in run:
        started = time.monotonic()
        summary = run_study(study, spec, storage_url=url)
        run["study_seconds"], run["finished"] = round(time.monotonic() - started, 1), summary.finished
        _save(out, state)
    for rule in RULES:  # single first: before re-evaluation stores any seed
        if rule in run["picks"]:
            continue
        started = time.monotonic()
        chosen = select(study, spec, "knee", rule=rule, seeds=None if rule == "single" else args.reeval_seeds,
                        top=None if rule == "single" else args.reeval_top, resplit=not args.same_split)
        data = export_data(study, spec, chosen.trial, storage_url=url, uncertainty=chosen.estimate.to_data(),
                           selection=chosen.provenance(args.reeval_seeds, args.reeval_top))
        run["picks"][rule] = {"trial": chosen.trial.number, "export": data, "trainings": chosen.trainings,
                              "seconds": round(time.monotonic() - started, 1)}
        _save(out, state)
    for rule in RULES:
        pick = run["picks"][rule]
        key = str(pick["trial"])
        for fit, name in (("train", "test_accuracy"), ("train+val", "test_accuracy_train_val")):
            if name not in run["retrains"].get(key, {}):
                # The study's threads: two spinning OpenMP threads per process on a busy machine crawl.
                result = retrain(pick["export"], workdir / f"seed{seed}_trial{key}_{fit}", device="cpu",
                                 threads=spec.threads, fit=fit)
                run["retrains"].setdefault(key, {})[name] = result.test_accuracy
                run["retrains"][key][f"train_seconds_{fit}"] = round(result.train_seconds, 1)
                _save(out, state)
    return run


def rows(state: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (study seed, rule): trial, promise, interval, test accuracy, gap, inside."""
    out = []
    for seed, run in sorted(state["runs"].items(), key=lambda kv: int(kv[0])):
        for rule in RULES:
            if rule not in run.get("picks", {}) or str(run["picks"][rule]["trial"]) not in run.get("retrains", {}):
                continue
            pick = run["picks"][rule]
            u, metrics = pick["export"]["uncertainty"], pick["export"]["metrics"]
            retrained = run["retrains"][str(pick["trial"])]
            test = retrained["test_accuracy"]
            low, high = u["test_interval"]
            out.append({"seed": int(seed), "rule": rule, "trial": pick["trial"], "params": metrics["params"],
                        "promise": u["accuracy"], "seeds": u["seeds"], "low": low, "high": high, "test": test,
                        "gap": u["accuracy"] - test, "inside": low <= test <= high, "trainings": pick["trainings"],
                        "test_train_val": retrained.get("test_accuracy_train_val")})
    return out


def summary(table: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for rule in RULES:
        mine = [r for r in table if r["rule"] == rule]
        if mine:
            out[rule] = {"n": len(mine), "mean_gap": statistics.fmean(r["gap"] for r in mine),
                         "mean_abs_gap": statistics.fmean(abs(r["gap"]) for r in mine),
                         "inside": sum(r["inside"] for r in mine),
                         "mean_width": statistics.fmean(r["high"] - r["low"] for r in mine),
                         "mean_test": statistics.fmean(r["test"] for r in mine)}
            tv = [r["test_train_val"] - r["test"] for r in mine if r["test_train_val"] is not None]
            out[rule]["mean_train_val_lift"] = statistics.fmean(tv) if tv else None
    return out


def markdown(table: list[dict[str, Any]], summ: dict[str, dict[str, Any]]) -> str:
    fmt = lambda x: "-" if x is None else f"{x:.4f}"  # noqa: E731
    lines = ["| seed | rule | trial | params | promise (seeds) | stated 95 % test interval | test accuracy (--fit train) "
             "| gap | inside | test accuracy (--fit train+val) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        lines.append(f"| {r['seed']} | {r['rule']} | {r['trial']} | {r['params'] / 1000:.3g}K | {r['promise']:.4f} ({r['seeds']}) "
                     f"| [{r['low']:.4f}, {r['high']:.4f}] | {r['test']:.4f} | {r['gap']:+.4f} | {'yes' if r['inside'] else 'no'} "
                     f"| {fmt(r['test_train_val'])} |")
    lines += ["", "| rule | studies | mean gap (promise - test) | mean abs gap | inside the interval | mean interval width "
              "| mean test accuracy | mean lift of train+val |", "|---|---|---|---|---|---|---|---|"]
    for rule, s in summ.items():
        lift = "-" if s["mean_train_val_lift"] is None else f"{s['mean_train_val_lift']:+.4f}"
        lines.append(f"| {rule} | {s['n']} | {s['mean_gap']:+.4f} | {s['mean_abs_gap']:.4f} | {s['inside']}/{s['n']} "
                     f"| {s['mean_width']:.4f} | {s['mean_test']:.4f} | {lift} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", required=True, help="folder for the studies, exports, retrains and the JSON")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="study (sampler) seeds")
    parser.add_argument("--reeval-seeds", type=int, default=2, help="extra seeds per re-evaluated candidate")
    parser.add_argument("--reeval-top", type=int, default=3, help="candidates re-evaluated")
    parser.add_argument("--same-split", action="store_true",
                        help="re-evaluate on the study's own split (the old behaviour), not on fresh partitions")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="spec override")
    parser.add_argument("--report", action="store_true", help="print the tables from the JSON; run nothing")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    state = _load(workdir)
    state["settings"] = {"reeval_seeds": args.reeval_seeds, "reeval_top": args.reeval_top, "set": args.set,
                         "resplit": not args.same_split}
    if not args.report:
        for seed in args.seeds:
            run_seed(seed, args, state)
            print(f"seed {seed} done", flush=True)
        state = _load(workdir)
    table = rows(state)
    where = {bool(p["export"].get("provenance", {}).get("resplit")) for run in state["runs"].values()
             for rule, p in run.get("picks", {}).items() if rule != "single"}
    print("lcb and mean re-evaluated on " + " and ".join(["the study's split", "fresh partitions"][w] for w in sorted(where)))
    print(markdown(table, summary(table)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
