"""Before/after table of every compression step for two families on digits (docs/compression.md).

    PYTHONPATH=.. python benchmarks/compression_table.py [--epochs 10] [--repeats 60] [--rounds 10]
        [--input-size 32] [--latency-batch 1]

Each family is trained once (seeded), then each row compresses a copy with
``search.compress.compress`` and measures the deployed model on the CPU, one thread, at
``--latency-batch`` samples (digits upsampled to ``--input-size`` when given): params and
FLOPs of the float model, serialized size, non-zero weights, latency, and validation accuracy of
the deployed model ("acc pruned": right after pruning/sparsifying; "acc before ft": after
BatchNorm re-estimation, before fine-tuning).

Latency is measured paired: in each of ``--rounds`` rounds the uncompressed model and the row's model run back to back (a median over the round's
forwards each); each model's latency is its best round, the least disturbed by other load on a
shared machine, and the ratio is of those.
"""

from __future__ import annotations

import argparse
import copy

from scalesearch.search.compression.compress import CompressionConfig, compress, predictions
from scalesearch.search.compression.deploy import cpu_threads
from scalesearch.search.compression.measure import (
    count_flops,
    count_params,
    measure_latency,
    serialized_size,
)
from scalesearch.search.compression.sparsity import count_nonzero
from scalesearch.search.datasets import load_dataset
from scalesearch.search.training.train import TrainConfig, train
from scalesearch.spaces.registry import ModelInput, get_family

MODELS = {
    "resnet": {"width_multiplier": 0.25, "depth_multiplier": 0.5},
    "convnext": {"width_multiplier": 0.5, "depth_multiplier": 0.34},
}
ROWS = {
    "uncompressed": CompressionConfig(),
    "prune 0.3 global + ft 2": CompressionConfig(pruning_ratio=0.3, finetune_epochs=2),
    "prune 0.5 global + ft 2": CompressionConfig(pruning_ratio=0.5, finetune_epochs=2),
    "prune 0.5 uniform + ft 2": CompressionConfig(pruning_ratio=0.5, pruning_allocation="uniform", finetune_epochs=2),
    "sparsity 0.5 + ft 2": CompressionConfig(sparsity=0.5, finetune_epochs=2),
    "int8_dynamic": CompressionConfig(quantization="int8_dynamic"),
    "int8_static": CompressionConfig(quantization="int8_static"),
    "prune 0.5 + ft 2 + int8_static": CompressionConfig(pruning_ratio=0.5, finetune_epochs=2, quantization="int8_static"),
}


def fmt(accuracy: float | None) -> str:
    return "-" if accuracy is None else f"{accuracy:.3f}"


def paired_latency(base: object, model: object, shape: tuple[int, ...], args: argparse.Namespace) -> tuple[float, float]:
    """Batch latency (ms) of ``base`` and ``model``: best of alternating rounds' medians."""
    times: dict[int, list[float]] = {0: [], 1: []}
    per_round = max(3, args.repeats // args.rounds)
    with cpu_threads(1, "cpu"):
        for _ in range(args.rounds):
            for i, m in enumerate((base, model)):
                times[i].append(measure_latency(m, shape, "cpu", batch_size=args.latency_batch, warmup=3,
                                                repeats=per_round).batch_ms)
    return min(times[0]), min(times[1])


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=60, help="timed forwards per model and row")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--input-size", type=int, default=None)
    parser.add_argument("--latency-batch", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_dataset("digits", input_size=args.input_size)
    io = ModelInput(data.num_classes, data.in_chans, data.input_size)
    shape = (data.in_chans, data.input_size, data.input_size)
    cfg = TrainConfig(epochs=args.epochs, lr=5e-3, weight_decay=5e-4, schedule="onecycle", amp=False)
    print(f"input {shape}, latency: CPU, 1 thread, batch {args.latency_batch}\n")
    print("| family | compression | params | FLOPs | non-zero | size KB | latency ms | vs fp32 | acc pruned | acc before ft | accuracy |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for family, knobs in MODELS.items():
        torch.manual_seed(0)
        trained = get_family(family).build(io, **knobs)
        train(trained, data, cfg, "cpu")
        for label, cc in ROWS.items():
            out = compress(copy.deepcopy(trained), data, cc, train_cfg=cfg, device="cpu", deploy_device="cpu")
            base_ms, ms = paired_latency(trained, out.model, shape, args)
            acc = (predictions(out.model, data.val, "cpu") == data.val.y).float().mean().item()
            pruned, before = (out.record.get(k) for k in ("accuracy_after_pruning", "accuracy_before_finetune"))
            print(f"| {family} {knobs['width_multiplier']}x{knobs['depth_multiplier']} | {label} "
                  f"| {count_params(out.float_model):,} | {count_flops(out.float_model, shape) / 1e6:.2f}M "
                  f"| {count_nonzero(out.float_model):,} | {serialized_size(out.model) / 1e3:.1f} | {ms:.3f} "
                  f"| {ms / base_ms:.2f} | {fmt(pruned)} | {fmt(before)} | {acc:.3f} |",
                  flush=True)


if __name__ == "__main__":
    main()
