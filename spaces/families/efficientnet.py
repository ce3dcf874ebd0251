"""EfficientNet (timm ``EfficientNet``), scaled by width and depth like the B0..B7 ladder.

Reference point: width 1, depth 1 is EfficientNet-B0 (MBConv blocks with squeeze-excite and
SiLU; the arch strings are timm's ``_gen_efficientnet``). Width scales every stage, the stem and
the head (rounded to multiples of 8); depth scales the repeats of each stage, rounding up as
timm does. Within the range: B1..B4 are (width, depth) = (1.0, 1.1), (1.1, 1.2), (1.2, 1.4),
(1.4, 1.8).
"""

from __future__ import annotations

from scalesearch.spaces.families import _timm_blocks
from scalesearch.spaces.registry import ModelInput, register_family

ARCH_DEF = [
    ["ds_r1_k3_s1_e1_c16_se0.25"],
    ["ir_r2_k3_s2_e6_c24_se0.25"],
    ["ir_r2_k5_s2_e6_c40_se0.25"],
    ["ir_r3_k3_s2_e6_c80_se0.25"],
    ["ir_r3_k5_s1_e6_c112_se0.25"],
    ["ir_r4_k5_s2_e6_c192_se0.25"],
    ["ir_r1_k3_s1_e6_c320_se0.25"],
]


@register_family(
    "efficientnet",
    description="timm EfficientNet (B0 at 1x); width scales channels, depth scales repeats per stage",
    knobs={
        "width_multiplier": {"low": 0.25, "high": 2.0, "log": True},
        "depth_multiplier": {"low": 0.25, "high": 2.0},
        "drop_rate": {"low": 0.0, "high": 0.5},
        "drop_path_rate": {"low": 0.0, "high": 0.3},
    },
)
def build_efficientnet(
    io: ModelInput,
    width_multiplier: float = 1.0,
    depth_multiplier: float = 1.0,
    drop_rate: float = 0.0,
    drop_path_rate: float = 0.0,
):
    from timm.layers import get_act_layer
    from timm.models.efficientnet import EfficientNet

    round_chs = _timm_blocks.round_chs_fn(width_multiplier)
    return _timm_blocks.build_from_arch(
        EfficientNet, ARCH_DEF, io, width_multiplier, depth_multiplier,
        stem_size=32,
        num_features=round_chs(1280),
        act_layer=get_act_layer("swish"),
        drop_rate=drop_rate,
        drop_path_rate=drop_path_rate,
    )
