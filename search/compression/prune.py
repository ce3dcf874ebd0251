"""Structured (channel) pruning with torch-pruning's dependency graph (DepGraph).

Channels are removed for real, so the pruned model is smaller and faster on dense kernels.
What is removed is ranked by L2 magnitude over each coupled group (a conv, its BatchNorm, the
residual adds and the next layer's input channels all go together):

* ``allocation="global"`` ranks groups across the whole model (layers of different widths
  lose different fractions; no layer loses more than ``knobs.MAX_RATIO``);
* ``allocation="uniform"`` removes the same fraction from every layer.

A *profile* spreads the ratio over the model's stages (timm's ``feature_info``): stage ``s``
gets ``ratio * multiplier[s]``, the multipliers being a named profile (``knobs.PROFILES``) or a
list, interpolated linearly over however many stages the model has. ``flat`` is one ratio
everywhere; ``later`` prunes late, wide stages harder than early ones.

Never pruned: the classifier's outputs (timm's ``get_classifier()``). Handled so the pruned
model runs: timm ``Attention`` (head dimensions shrink, the head count stays; ``head_dim``,
``attn_dim`` and ``scale`` are updated and the change of softmax temperature is folded into the
query weights) and parameters that belong to no layer (ConvNeXt's ``gamma``, ViT's
``cls_token``/``pos_embed``; their channel dimension is the last non-singleton one).

The result's ``history`` (module name, output-or-input, channel indices) is plain data:
:func:`replay` applies it to a fresh model of the same family, which is how a compressed model
is reloaded without pickling its class (see ``search/compression/artifact.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scalesearch.search.compression.knobs import (
    ALLOCATIONS,
    MAX_RATIO,
    Profile,
    profile_multipliers,
)


@dataclass(frozen=True)
class PruneResult:
    history: list[list[Any]]  # [module name, is_output_channels, [indices]]: JSON-safe
    stage_ratios: tuple[float, ...]  # the ratio each stage was asked for


def stage_ratios(ratio: float, profile: Profile, n_stages: int) -> tuple[float, ...]:
    """Per-stage ratios: the profile interpolated over ``n_stages``, times ``ratio``, capped."""
    points = profile_multipliers(profile)
    out = []
    for s in range(n_stages):
        if len(points) == 1 or n_stages == 1:
            m = points[0] if len(points) == 1 else sum(points) / len(points)
        else:
            t = s / (n_stages - 1) * (len(points) - 1)
            lo = min(int(t), len(points) - 2)
            m = points[lo] + (points[lo + 1] - points[lo]) * (t - lo)
        out.append(round(min(MAX_RATIO, ratio * m), 6))
    return tuple(out)


def classifier(model: Any) -> Any:
    """The layer whose outputs are the classes: timm's ``get_classifier()``, else the last Linear."""
    from torch import nn

    head = model.get_classifier() if hasattr(model, "get_classifier") else None
    if isinstance(head, nn.Module) and not isinstance(head, nn.Identity):
        return head
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no classifier (no get_classifier() and no nn.Linear)")
    return linears[-1]


def _layer_types() -> tuple[type, ...]:
    from torch import nn

    return (nn.modules.conv._ConvNd, nn.Linear, nn.modules.batchnorm._BatchNorm, nn.LayerNorm,
            nn.GroupNorm, nn.modules.instancenorm._InstanceNorm, nn.PReLU, nn.Embedding,
            nn.MultiheadAttention, nn.LSTM)


def unwrapped_parameters(model: Any) -> list[tuple[Any, int]]:
    """``(parameter, channel dim)`` for parameters owned by no standard layer (gamma, pos_embed)."""
    layers = _layer_types()
    out = []
    for module in model.modules():
        if isinstance(module, layers):
            continue
        for p in module.parameters(recurse=False):
            dims = [i for i, s in enumerate(p.shape) if s > 1]
            if dims:
                out.append((p, dims[-1]))
    return out


def _attention_type() -> type | None:
    try:
        from timm.layers import Attention
    except ImportError:  # pragma: no cover - timm is a dependency
        return None
    return Attention


def _attentions(model: Any) -> list[Any]:
    attention = _attention_type()
    return [m for m in model.modules() if attention is not None and isinstance(m, attention)]


def _stage_layers(model: Any) -> list[list[Any]]:
    """Conv/Linear layers per stage, from timm's ``feature_info`` (one stage without it).

    A stage ends at the last module under its ``feature_info`` name; layers before the first
    end belong to the first stage (the stem), layers after the last end to the last (the head).
    """
    from torch import nn

    head = classifier(model)
    named = list(model.named_modules())
    layers = [(i, m) for i, (_, m) in enumerate(named)
              if isinstance(m, nn.modules.conv._ConvNd | nn.Linear) and m is not head]
    info = getattr(model, "feature_info", None)
    names = [f.get("module") for f in info] if isinstance(info, list) else []
    ends = []
    for name in names:
        positions = [i for i, (n, _) in enumerate(named) if n == name or n.startswith(f"{name}.")]
        if positions:
            ends.append(max(positions))
    ends = sorted(set(ends))
    if not ends:
        return [[m for _, m in layers]]
    stages: list[list[Any]] = [[] for _ in ends]
    for position, module in layers:
        s = next((k for k, end in enumerate(ends) if position <= end), len(ends) - 1)
        stages[s].append(module)
    return [s for s in stages if s]


def prune(model: Any, example: Any, ratio: float, allocation: str = "global",
          profile: Profile = "flat") -> PruneResult:
    """Remove channels from ``model`` in place; ``example`` is one input batch for tracing."""
    import torch
    import torch_pruning as tp

    if allocation not in ALLOCATIONS:
        raise ValueError(f"unknown pruning allocation {allocation!r}; choose from {', '.join(ALLOCATIONS)}")
    if not 0 <= ratio <= MAX_RATIO:
        raise ValueError(f"pruning ratio must be in [0, {MAX_RATIO}], got {ratio}")
    stages = _stage_layers(model)
    ratios = stage_ratios(ratio, profile, len(stages))
    if ratio == 0:
        return PruneResult([], ratios)
    per_stage = None
    if len(set(ratios)) > 1:
        per_stage = {tuple(layers): r for layers, r in zip(stages, ratios, strict=True)}
    attentions = _attentions(model)
    head_dims = {a: a.head_dim for a in attentions}
    old_width = _head_width(model)
    was_training = model.training
    model.eval()
    pruner = tp.pruner.BasePruner(
        model, example,
        importance=tp.importance.GroupMagnitudeImportance(p=2),
        global_pruning=allocation == "global",
        pruning_ratio=ratios[0] if per_stage is None else ratio,
        pruning_ratio_dict=per_stage,
        max_pruning_ratio=MAX_RATIO,
        ignored_layers=[classifier(model)],
        unwrapped_parameters=unwrapped_parameters(model),
        num_heads={a.qkv: a.num_heads for a in attentions},
        prune_head_dims=True,
        prune_num_heads=False,
    )
    with torch.no_grad():
        pruner.step()
        fix_attention(model)
        for a, old in head_dims.items():
            _fold_attention_scale(a, old)
    _sync_num_features(model, old_width)
    model.train(was_training)
    return PruneResult([list(h) for h in pruner.DG.pruning_history()], ratios)


def replay(model: Any, example: Any, history: Sequence[Sequence[Any]]) -> None:
    """Apply a :class:`PruneResult` ``history`` to a fresh model of the same architecture."""
    import torch
    import torch_pruning as tp

    if not history:
        return
    old_width = _head_width(model)
    was_training = model.training
    model.eval()
    graph = tp.DependencyGraph().build_dependency(
        model, example_inputs=example, unwrapped_parameters=unwrapped_parameters(model))
    with torch.no_grad():
        graph.load_pruning_history([(name, bool(out), list(idx)) for name, out, idx in history])
        fix_attention(model)
    _sync_num_features(model, old_width)
    model.train(was_training)


def fix_attention(model: Any) -> None:
    """Update timm ``Attention`` shape attributes after its ``qkv`` lost head dimensions."""
    for a in _attentions(model):
        a.head_dim = a.qkv.out_features // (3 * a.num_heads)
        a.attn_dim = a.num_heads * a.head_dim
        a.scale = a.head_dim ** -0.5


def _fold_attention_scale(a: Any, old_head_dim: int) -> None:
    """Keep the trained softmax temperature: scaled-dot-product attention now divides by
    sqrt(new head_dim); multiplying q by sqrt(new / old) restores q.k / sqrt(old)."""
    from torch import nn

    if a.head_dim == old_head_dim:
        return
    factor = (a.head_dim / old_head_dim) ** 0.5
    if isinstance(a.q_norm, nn.Identity):
        a.qkv.weight[: a.attn_dim].mul_(factor)
        if a.qkv.bias is not None:
            a.qkv.bias[: a.attn_dim].mul_(factor)
    elif getattr(a.q_norm, "weight", None) is not None:
        a.q_norm.weight.mul_(factor)
        if getattr(a.q_norm, "bias", None) is not None:
            a.q_norm.bias.mul_(factor)


def _head_width(model: Any) -> int | None:
    head = classifier(model)
    return getattr(head, "in_features", None) or getattr(head, "in_channels", None)


def _sync_num_features(model: Any, old_width: int | None) -> None:
    """timm's width attributes that named the classifier's input width follow it when it shrinks
    (``reset_classifier`` builds the new head from them)."""
    width = _head_width(model)
    if width is None or old_width is None or width == old_width:
        return
    for attr in ("num_features", "head_hidden_size", "embed_dim"):
        if getattr(model, attr, None) == old_width:
            setattr(model, attr, width)
