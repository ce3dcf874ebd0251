"""Vision Transformer (timm ``VisionTransformer``), scaled by width and depth.

Reference point: width 1, depth 1 is ViT-Tiny (embed 192, 12 blocks, 3 heads, MLP ratio 4).
Width scales the embedding, rounded to a multiple of both 8 and ``num_heads`` (timm needs
``embed_dim % num_heads == 0``); depth scales the blocks. The patch size must divide the input,
so a ``patch_size`` that does not is moved to the nearest divisor (16 on an 8 px input is 8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scalesearch.spaces.families._scaling import nearest, scale_channels, scale_depth
from scalesearch.spaces.registry import ModelInput, register_family

_EMBED, _DEPTH = 192, 12


@dataclass(frozen=True)
class ViTArch:
    """The resolved ViT shape (the nearest buildable one)."""

    embed_dim: int
    depth: int
    num_heads: int
    patch_size: int


def vit_arch(input_size: int, width_multiplier: float, depth_multiplier: float,
             patch_size: int, num_heads: int) -> ViTArch:
    """The buildable ViT nearest to the requested point for a square ``input_size`` input."""
    divisors = [d for d in range(1, input_size + 1) if input_size % d == 0]
    divisor = math.lcm(8, num_heads)
    return ViTArch(
        embed_dim=scale_channels(_EMBED, width_multiplier, divisor=divisor),
        depth=scale_depth(_DEPTH, depth_multiplier),
        num_heads=num_heads,
        patch_size=nearest(patch_size, divisors),
    )


@register_family(
    "vit",
    description="timm Vision Transformer (ViT-Tiny at 1x); width scales embed dim, depth scales blocks",
    knobs={
        "width_multiplier": {"low": 0.25, "high": 2.0, "log": True},
        "depth_multiplier": {"low": 0.25, "high": 2.0},
        "patch_size": {"choices": [1, 2, 4, 8, 16]},
        "num_heads": {"choices": [1, 2, 3, 4, 6, 8, 12]},
        "drop_rate": {"low": 0.0, "high": 0.5},
        "drop_path_rate": {"low": 0.0, "high": 0.3},
    },
)
def build_vit(
    io: ModelInput,
    width_multiplier: float = 1.0,
    depth_multiplier: float = 1.0,
    patch_size: int = 4,
    num_heads: int = 3,
    drop_rate: float = 0.0,
    drop_path_rate: float = 0.0,
):
    from timm.models.vision_transformer import VisionTransformer

    arch = vit_arch(io.input_size, width_multiplier, depth_multiplier, patch_size, num_heads)
    return VisionTransformer(
        img_size=io.input_size,
        patch_size=arch.patch_size,
        in_chans=io.in_chans,
        num_classes=io.num_classes,
        embed_dim=arch.embed_dim,
        depth=arch.depth,
        num_heads=arch.num_heads,
        drop_rate=drop_rate,
        drop_path_rate=drop_path_rate,
    )
