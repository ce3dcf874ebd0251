"""How far an 8x8 digit should be downsampled: the ResNet family's last feature map at 1, 2 or 4 px.

The same ResNet (same parameters; only the stride of the first block of a stage changes) at
each ``--widths`` (depth 1), trained as the default study trains (20 one-cycle epochs, batch 32,
lr 5e-3, weight decay 5e-4, label smoothing 0.05, drop rate 0.1, augment 0.3; CPU, one
thread), at each ``--seeds``. The stages run at

- 1 px: 8, 4, 2, 1 (the family before the change: at 1x1 a 3x3 conv reads only its centre tap);
- 2 px: 8, 8, 4, 2 (the family as built: ``spaces/families/resnet.py``);
- 4 px: 8, 8, 8, 4 (as CIFAR ResNets end).

Prints one JSON line per training (params, FLOPs, validation and test accuracy, seconds), then
per width and map size the mean test accuracy ± SE and the paired difference against 2 px.

    PYTHONPATH=.. python benchmarks/resnet_strides.py [--widths 0.04 0.0625] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

MAPS = (1, 2, 4)


def restride(model, last_px: int) -> None:
    """Set an 8-px ResNet built by the family (last map 2 px) to end at ``last_px``."""
    def first_block(stage, stride: int) -> None:  # a BasicBlock: its first 3x3 conv and its shortcut
        block = stage[0]
        block.conv1.stride = (stride, stride)
        if block.downsample is not None:
            block.downsample[0].stride = (stride, stride)

    if last_px == 1:
        first_block(model.layer2, 2)
    elif last_px == 4:
        first_block(model.layer3, 1)


def run_one(width: float, last_px: int, seed: int) -> dict:
    import torch

    from scalesearch.search.compression.measure import count_flops
    from scalesearch.search.datasets.load import load_dataset
    from scalesearch.search.training.train import TrainConfig, evaluate, train
    from scalesearch.spaces.registry import ModelInput, get_family

    torch.set_num_threads(1)
    data = load_dataset("digits")
    torch.manual_seed(seed)
    io = ModelInput(data.num_classes, data.in_chans, data.input_size)
    model = get_family("resnet").build(io, width_multiplier=width, depth_multiplier=1.0, drop_rate=0.1)
    restride(model, last_px)
    with torch.no_grad():
        assert model.eval().forward_features(torch.zeros(1, 1, 8, 8)).shape[-1] == last_px
    cfg = TrainConfig(lr=5e-3, weight_decay=5e-4, label_smoothing=0.05, epochs=20, batch_size=32,
                      schedule="onecycle", augment=0.3, seed=seed)
    started = time.perf_counter()
    result = train(model, data, cfg, "cpu")
    seconds = time.perf_counter() - started
    return {"width": width, "last_px": last_px, "seed": seed, "params": sum(p.numel() for p in model.parameters()),
            "flops": count_flops(model.eval(), (1, 8, 8)), "val": round(result.val_accuracy, 4),
            "test": round(evaluate(model, data.test, "cpu", cfg), 4), "seconds": round(seconds, 1)}


def summary(rows: list[dict]) -> list[str]:
    lines = []
    for width in sorted({r["width"] for r in rows}):
        at = {px: {r["seed"]: r for r in rows if r["width"] == width and r["last_px"] == px} for px in MAPS}
        for px in MAPS:
            tests = [r["test"] for r in at[px].values()]
            if not tests:
                continue
            se = statistics.stdev(tests) / len(tests) ** 0.5 if len(tests) > 1 else float("nan")
            paired = [at[px][s]["test"] - at[2][s]["test"] for s in at[px] if s in at[2]]
            diff = (f"{statistics.fmean(paired):+.4f} ± {statistics.stdev(paired) / len(paired) ** 0.5:.4f}"
                    if px != 2 and len(paired) > 1 else "")
            one = next(iter(at[px].values()))
            lines.append(f"| {one['params'] / 1000:.1f}K | {px} px | {one['flops'] / 1e6:.2f}M | "
                         f"{statistics.fmean(tests):.4f} ± {se:.4f} | {diff} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=float, nargs="+", default=[0.04, 0.0625])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    rows = []
    for width in args.widths:
        for seed in args.seeds:
            for px in MAPS:
                rows.append(run_one(width, px, seed))
                print(json.dumps(rows[-1]), flush=True)
    print("| params | last map | FLOPs | test accuracy | vs 2 px, paired |")
    print("|---|---|---|---|---|")
    print("\n".join(summary(rows)))


if __name__ == "__main__":
    main()
