"""Which peak learning rates the default space should search: test accuracy against lr per model size.

Each ``--models`` FAMILY:WIDTH:DEPTH trains as a default-study trial does (digits, 20 one-cycle
epochs, batch 64, weight decay 1e-2, label smoothing 0.05, augment 0.4; CPU, one thread) at
each ``--lrs`` peak learning rate and each ``--seeds``. Prints one JSON line per training
(params, validation and test accuracy, seconds), then per model and lr the mean test accuracy
± SE over seeds.

    PYTHONPATH=.. python benchmarks/lr_range.py [--models resnet:0.03125:0.5 ...] [--lrs 1e-3 ...] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def run_one(family: str, width: float, depth: float, lr: float, seed: int) -> dict:
    import torch

    from scalesearch.search.datasets.load import load_dataset
    from scalesearch.search.training.train import TrainConfig, evaluate, train
    from scalesearch.spaces.registry import ModelInput, get_family

    torch.set_num_threads(1)
    data = load_dataset("digits")
    torch.manual_seed(seed)
    io = ModelInput(data.num_classes, data.in_chans, data.input_size)
    model = get_family(family).build(io, width_multiplier=width, depth_multiplier=depth)
    cfg = TrainConfig(lr=lr, weight_decay=1e-2, label_smoothing=0.05, epochs=20, batch_size=64,
                      schedule="onecycle", augment=0.4, seed=seed)
    started = time.perf_counter()
    result = train(model, data, cfg, "cpu")
    return {"model": f"{family} w={width} d={depth}", "lr": lr, "seed": seed,
            "params": sum(p.numel() for p in model.parameters()), "val": round(result.val_accuracy, 4),
            "test": round(evaluate(model, data.test, "cpu", cfg), 4), "seconds": round(time.perf_counter() - started, 1)}


def summary(rows: list[dict]) -> list[str]:
    """The Markdown table, header included: a row per model and lr, in lr order."""
    lines = ["| model | params | peak lr | test accuracy |", "|---|---|---|---|"]
    for model in dict.fromkeys(r["model"] for r in rows):
        for lr in sorted({r["lr"] for r in rows if r["model"] == model}):
            at = [r for r in rows if r["model"] == model and r["lr"] == lr]
            tests = [r["test"] for r in at]
            se = statistics.stdev(tests) / len(tests) ** 0.5 if len(tests) > 1 else float("nan")
            lines.append(f"| {model} | {at[0]['params'] / 1000:.1f}K | {lr:g} | {statistics.fmean(tests):.4f} ± {se:.4f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet:0.03125:0.5", "resnet:0.1:0.5", "convnext:0.4:0.34"],
                        help="FAMILY:WIDTH:DEPTH")
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    grid = [(m.split(":")[0], float(m.split(":")[1]), float(m.split(":")[2]), lr, seed)
            for m in args.models for lr in args.lrs for seed in args.seeds]
    rows = []
    for point in grid:
        rows.append(run_one(*point))
        print(json.dumps(rows[-1]), flush=True)
    print("\n".join(summary(rows)))


if __name__ == "__main__":
    main()
