"""MobileNet-V3 Large (timm ``MobileNetV3``), scaled by width and depth.

Reference point: width 1, depth 1 is MobileNet-V3 Large 1.0 (timm ``mobilenetv3_large_100``;
the arch strings are timm's ``_gen_mobilenet_v3``): hard-swish, hard-sigmoid squeeze-excite and
the "efficient head" (pool, then a 1x1 conv). As in timm the 16-channel stem stops scaling
below width 0.75; unlike timm the 1280-wide head conv scales with width, so the low end of
the range stays small.
"""

from __future__ import annotations

from scalesearch.spaces.families import _timm_blocks
from scalesearch.spaces.registry import ModelInput, register_family

ARCH_DEF = [
    ["ds_r1_k3_s1_e1_c16_nre"],
    ["ir_r1_k3_s2_e4_c24_nre", "ir_r1_k3_s1_e3_c24_nre"],
    ["ir_r3_k5_s2_e3_c40_se0.25_nre"],
    ["ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80"],
    ["ir_r2_k3_s1_e6_c112_se0.25"],
    ["ir_r3_k5_s2_e6_c160_se0.25"],
    ["cn_r1_k1_s1_c960"],
]


@register_family(
    "mobilenetv3",
    description="timm MobileNet-V3 Large (1.0 at 1x); width scales channels and head, depth scales repeats",
    knobs={
        "width_multiplier": {"low": 0.25, "high": 2.0, "log": True},
        "depth_multiplier": {"low": 0.25, "high": 2.0},
        "drop_rate": {"low": 0.0, "high": 0.5},
        "drop_path_rate": {"low": 0.0, "high": 0.3},
    },
)
def build_mobilenetv3(
    io: ModelInput,
    width_multiplier: float = 1.0,
    depth_multiplier: float = 1.0,
    drop_rate: float = 0.0,
    drop_path_rate: float = 0.0,
):
    from timm.layers import get_act_layer
    from timm.models.mobilenetv3 import MobileNetV3

    round_chs = _timm_blocks.round_chs_fn(width_multiplier)
    return _timm_blocks.build_from_arch(
        MobileNetV3, ARCH_DEF, io, width_multiplier, depth_multiplier,
        stem_size=16,
        fix_stem=width_multiplier < 0.75,
        num_features=round_chs(1280),
        act_layer=get_act_layer("hard_swish"),
        se_layer=_timm_blocks.hard_sigmoid_se(),
        drop_rate=drop_rate,
        drop_path_rate=drop_path_rate,
    )
