"""How fast a pruned model should fine-tune: its learning rate as a fraction of training's peak.

For each ``--configs`` WIDTH:RATIO and ``--seeds``, one ResNet (depth 0.5, the default space's
smallest shapes) trains as the default study trains one (20 one-cycle epochs, batch 32, lr 3e-3,
weight decay 1e-2, label smoothing 0.05, augment 0.4; CPU, one thread); copies of it are then
pruned at RATIO (``compress``: torch-pruning, global allocation, BatchNorm re-estimated) and
fine-tuned for 2 + RATIO x 20 epochs of cosine decay from ``lr x factor``, one copy per
``--factors`` (0.3 was the default; 1.0 starts from training's peak). The copies share the trained
weights, so each factor's difference to 0.3 is paired per seed.

Prints one JSON line per fine-tuning (params before and after, validation and test accuracy,
seconds), then per config and factor the mean test accuracy ± SE and the paired difference
against 0.3.

    PYTHONPATH=.. python benchmarks/finetune_lr.py [--configs 0.035:0.25 0.05:0.5 0.12:0.25] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time

BASELINE = 0.3  # the fine-tuning factor before the default space set 1.0


def run_seed(width: float, ratio: float, seed: int, factors: list[float]) -> list[dict]:
    import torch

    from scalesearch.search.compression.compress import CompressionConfig, compress
    from scalesearch.search.datasets.load import load_dataset
    from scalesearch.search.training.train import TrainConfig, evaluate, train
    from scalesearch.spaces.registry import ModelInput, get_family

    torch.set_num_threads(1)
    data = load_dataset("digits")
    torch.manual_seed(seed)
    io = ModelInput(data.num_classes, data.in_chans, data.input_size)
    model = get_family("resnet").build(io, width_multiplier=width, depth_multiplier=0.5)
    cfg = TrainConfig(lr=3e-3, weight_decay=1e-2, label_smoothing=0.05, epochs=20, batch_size=32,
                      schedule="onecycle", augment=0.4, seed=seed)
    trained = train(model, data, cfg, "cpu")
    params = sum(p.numel() for p in model.parameters())
    rows = []
    for factor in factors:
        cc = CompressionConfig(pruning_ratio=ratio, finetune_epochs=2, finetune_fraction=1.0, finetune_lr_factor=factor)
        started = time.perf_counter()
        done = compress(copy.deepcopy(model), data, cc, train_cfg=cfg, device="cpu", deploy_device="cpu")
        rows.append({"width": width, "ratio": ratio, "seed": seed, "factor": factor, "params": params,
                     "pruned_params": sum(p.numel() for p in done.model.parameters()),
                     "trained_val": round(trained.val_accuracy, 4),
                     "val": round(done.record["accuracy_after_finetune"], 4),
                     "test": round(evaluate(done.model, data.test, "cpu", cfg), 4),
                     "epochs": done.record["finetune_epochs"], "seconds": round(time.perf_counter() - started, 1)})
    return rows


def summary(rows: list[dict]) -> list[str]:
    lines = []
    for config in sorted({(r["width"], r["ratio"]) for r in rows}):
        at = {f: {r["seed"]: r for r in rows if (r["width"], r["ratio"]) == config and r["factor"] == f}
              for f in sorted({r["factor"] for r in rows})}
        for factor, by_seed in at.items():
            tests = [r["test"] for r in by_seed.values()]
            se = statistics.stdev(tests) / len(tests) ** 0.5 if len(tests) > 1 else float("nan")
            paired = [r["test"] - at[BASELINE][s]["test"] for s, r in by_seed.items() if s in at.get(BASELINE, {})]
            diff = (f"{statistics.fmean(paired):+.4f} ± {statistics.stdev(paired) / len(paired) ** 0.5:.4f}"
                    if factor != BASELINE and len(paired) > 1 else "")
            one = next(iter(by_seed.values()))
            lines.append(f"| {one['params'] / 1000:.1f}K -> {statistics.fmean(r['pruned_params'] for r in by_seed.values()) / 1000:.1f}K "
                         f"| {config[1]} | {one['epochs']} | {factor} | {statistics.fmean(tests):.4f} ± {se:.4f} | {diff} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["0.035:0.25", "0.05:0.5", "0.12:0.25"],
                        help="WIDTH:RATIO pairs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--factors", type=float, nargs="+", default=[BASELINE, 1.0])
    args = parser.parse_args()
    rows = []
    for config in args.configs:
        width, ratio = (float(v) for v in config.split(":"))
        for seed in args.seeds:
            for row in run_seed(width, ratio, seed, args.factors):
                rows.append(row)
                print(json.dumps(row), flush=True)
    print("| params | ratio | fine-tuning epochs | lr factor | test accuracy | vs 0.3, paired |")
    print("|---|---|---|---|---|---|")
    print("\n".join(summary(rows)))


if __name__ == "__main__":
    main()
