"""Unstructured global magnitude sparsity: zero the smallest weights across the whole model.

The weights of every convolution and linear layer except the classifier compete in one ranking
by absolute value; the smallest ``sparsity`` fraction become zero. While the masks are attached
(torch's ``nn.utils.prune`` re-parametrisation) fine-tuning keeps the zeros at zero; :func:`fix`
makes them permanent.

Be honest about what this buys: the tensors stay dense. Parameter count, serialized size and
latency on dense kernels (every device here) do not change; only the number of non-zero
weights (:func:`count_nonzero`) does. It pays off with a sparse runtime or a compressing file
format, neither of which scalesearch measures.
"""

from __future__ import annotations

from typing import Any

from scalesearch.search.compression.knobs import MAX_SPARSITY
from scalesearch.search.compression.prune import classifier


def targets(model: Any) -> list[tuple[Any, str]]:
    """``(module, "weight")`` for every conv/linear layer except the classifier."""
    from torch import nn

    head = classifier(model)
    return [(m, "weight") for m in model.modules()
            if isinstance(m, nn.modules.conv._ConvNd | nn.Linear) and m is not head]


def sparsify(model: Any, sparsity: float) -> int:
    """Attach global L1 masks zeroing ``sparsity`` of the target weights; returns how many."""
    from torch.nn.utils import prune

    if not 0 <= sparsity <= MAX_SPARSITY:
        raise ValueError(f"sparsity must be in [0, {MAX_SPARSITY}], got {sparsity}")
    params = targets(model)
    if sparsity == 0 or not params:
        return 0
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=sparsity)
    return int(sum((m.weight_mask == 0).sum().item() for m, _ in params))


def fix(model: Any) -> None:
    """Make attached masks permanent (the zeros become plain weights; hooks are removed)."""
    from torch.nn.utils import prune

    for module, name in targets(model):
        if prune.is_pruned(module) and hasattr(module, f"{name}_mask"):
            prune.remove(module, name)


def count_nonzero(model: Any) -> int:
    """Non-zero entries over all parameters (masked weights count as they act in the forward)."""
    total = 0
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if name.endswith("_orig") and hasattr(module, name[:-5] + "_mask"):
                p = p * getattr(module, name[:-5] + "_mask")
            total += int((p != 0).sum().item())
    return total


def weight_sparsity(model: Any) -> float:
    """Fraction of zeros among the target weights (what :func:`sparsify` controls)."""
    params = [getattr(m, n) for m, n in targets(model)]
    total = sum(p.numel() for p in params)
    zeros = sum(int((p == 0).sum().item()) for p in params)
    return zeros / total if total else 0.0
