"""``studies/digits_compress.yaml`` searched twice, side by side: deployed models measured on the
torch runtime and on onnxruntime (``deploy.runtime``), same seeds and budget (docs/benchmarks.md).

    PYTHONPATH=.. python benchmarks/onnx_runtime_front.py [--n-trials 12] [--storage-dir DIR]
        [--set threads=1] ...

Each arm is a study of its own (``digits_compress_torch``, ``digits_compress_onnxruntime``) in
``DIR/onnx_runtime_front.db``, resumed when it is already there. Printed: each arm's Pareto front
(accuracy, latency_ms, size_mb as that runtime measured them), and for the trials whose sampled
parameters are the same in both arms (the enqueued baselines and the sampler's seeded startup
trials), the two runtimes' numbers for the same configuration.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from scalesearch.search.config.spec import load_spec
from scalesearch.search.study.study import open_study, run_study

SPEC = Path(__file__).resolve().parent.parent / "studies" / "digits_compress.yaml"
ARMS = ("torch", "onnxruntime")


def describe(params: dict) -> str:
    family = params["family"]
    width = params.get(f"{family}.width_multiplier")
    depth = params.get(f"{family}.depth_multiplier")
    pruning = params.get("pruning_ratio", 0.0)
    parts = [family, f"w{width:.3f}" if width is not None else "", f"d{depth}" if depth is not None else "",
             f"prune {pruning:.1f} {params.get('pruning_allocation', '')}".strip() if pruning else "",
             params.get("quantization", "none")]
    return " ".join(p for p in parts if p)


def front_table(study: object) -> list[str]:
    front = sorted(study.best_trials, key=lambda t: t.values[0])
    lines = ["| trial | config | accuracy | latency_ms | size_mb |", "|---:|---|---:|---:|---:|"]
    for t in front:
        a = t.user_attrs
        lines.append(f"| {t.number} | {describe(t.params)} | {a['ss.accuracy']:.3f} | "
                     f"{a['ss.latency_ms']:.3f} | {a['ss.size_mb']:.4f} |")
    return lines


def paired(studies: dict) -> list[str]:
    """Same configuration, both runtimes: the trials whose params match."""
    def complete(study: object) -> dict:
        return {tuple(sorted(t.params.items())): t for t in study.trials if t.state.name == "COMPLETE"}

    torch_trials, ort_trials = (complete(studies[arm]) for arm in ARMS)
    lines = ["| config | accuracy torch / ort | latency_ms torch / ort | size_mb torch / ort |",
             "|---|---:|---:|---:|"]
    ratios = []
    for key in [k for k in torch_trials if k in ort_trials]:
        a, b = torch_trials[key].user_attrs, ort_trials[key].user_attrs
        ratios.append(b["ss.latency_ms"] / a["ss.latency_ms"])
        lines.append(f"| {describe(dict(key))} | {a['ss.accuracy']:.3f} / {b['ss.accuracy']:.3f} | "
                     f"{a['ss.latency_ms']:.3f} / {b['ss.latency_ms']:.3f} | "
                     f"{a['ss.size_mb']:.4f} / {b['ss.size_mb']:.4f} |")
    if ratios:
        lines.append(f"\n{len(ratios)} configurations in both arms; onnxruntime latency / torch latency: "
                     f"median {statistics.median(ratios):.2f}, range {min(ratios):.2f}-{max(ratios):.2f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-trials", type=int, default=12, help="finished trials per arm (the spec says 30)")
    parser.add_argument("--storage-dir", default=".", help="folder for onnx_runtime_front.db")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    storage = f"sqlite:///{Path(args.storage_dir) / 'onnx_runtime_front.db'}"
    studies = {}
    for arm in ARMS:
        overrides = [f"study_name=digits_compress_{arm}", f"deploy.runtime={arm}",
                     f"budget.n_trials={args.n_trials}", *args.overrides]
        study, spec = open_study(load_spec(SPEC, overrides), storage)
        summary = run_study(study, spec)
        print(f"{arm}: {summary.finished} finished trials, {summary.failed_this_run} failed, "
              f"{summary.seconds:.0f} s this run")
        studies[arm] = study
    for arm in ARMS:
        study = studies[arm]
        print(f"\nPareto front, deploy.runtime {arm} ({len(study.best_trials)} of {len(study.trials)} trials):\n")
        print("\n".join(front_table(study)))
    print("\nSame configuration on both runtimes:\n")
    print("\n".join(paired(studies)))


if __name__ == "__main__":
    main()
