"""Run ``studies/digits_compress.yaml`` through the library and print its Pareto front.

    PYTHONPATH=.. python benchmarks/digits_compress_front.py --storage sqlite:///compress.db \
        [--set threads=1] [--set budget.n_trials=30]

Resumes the study if the storage already holds it (the budget counts finished trials).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scalesearch.search.config.spec import load_spec
from scalesearch.search.config.system_attrs import trial_config
from scalesearch.search.study.study import open_study, run_study

SPEC = Path(__file__).resolve().parent.parent / "studies" / "digits_compress.yaml"


def describe(config: dict) -> tuple[str, str, str]:
    model = config["model"]
    arch = f"{config['family']} w{model['width_multiplier']:.3f} d{model['depth_multiplier']}"
    c = config.get("compression", {})
    pruning = f"{c['pruning_ratio']:.1f} {c.get('pruning_allocation', '')}".strip() if c.get("pruning_ratio") else "-"
    return arch, pruning, c.get("quantization", "none")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--storage", default="sqlite:///digits_compress.db")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    study, spec = open_study(load_spec(SPEC, args.overrides), args.storage)
    summary = run_study(study, spec)
    print(f"{summary.finished} finished trials, {summary.failed_this_run} failed, "
          f"{summary.seconds:.0f} s this run, stopped by {summary.stopped_by}")
    front = sorted(study.best_trials, key=lambda t: t.values[0])
    print(f"\nPareto front ({len(front)} of {len(study.trials)} trials), objectives {', '.join(spec.objectives)}:\n")
    print("| trial | model | pruning | quantization | accuracy | latency_ms | size_mb | params |")
    print("|---:|---|---|---|---:|---:|---:|---:|")
    for t in front:
        arch, pruning, quant = describe(trial_config(t))
        a = t.user_attrs
        print(f"| {t.number} | {arch} | {pruning} | {quant} | {a['ss.accuracy']:.3f} | "
              f"{a['ss.latency_ms']:.3f} | {a['ss.size_mb']:.4f} | {a['ss.params']} |")


if __name__ == "__main__":
    main()
