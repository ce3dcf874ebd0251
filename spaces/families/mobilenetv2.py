"""MobileNet-V2 (timm ``EfficientNet`` class with ReLU6 inverted residuals), width x depth.

Reference point: width 1, depth 1 is MobileNet-V2 1.0 (timm ``mobilenetv2_100``; the arch
strings are timm's ``_gen_mobilenet_v2``). Width scales stages, stem and head; unlike timm,
which keeps the 1280-wide head at every width below 1, the head shrinks with width too, so the
low end of the range stays small.
"""

from __future__ import annotations

from scalesearch.spaces.families import _timm_blocks
from scalesearch.spaces.registry import ModelInput, register_family

ARCH_DEF = [
    ["ds_r1_k3_s1_c16"],
    ["ir_r2_k3_s2_e6_c24"],
    ["ir_r3_k3_s2_e6_c32"],
    ["ir_r4_k3_s2_e6_c64"],
    ["ir_r3_k3_s1_e6_c96"],
    ["ir_r3_k3_s2_e6_c160"],
    ["ir_r1_k3_s1_e6_c320"],
]


@register_family(
    "mobilenetv2",
    description="timm MobileNet-V2 (1.0 at 1x); width scales channels and head, depth scales repeats",
    knobs={
        "width_multiplier": {"low": 0.25, "high": 2.0, "log": True},
        "depth_multiplier": {"low": 0.25, "high": 2.0},
        "drop_rate": {"low": 0.0, "high": 0.5},
        "drop_path_rate": {"low": 0.0, "high": 0.3},
    },
)
def build_mobilenetv2(
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
        act_layer=get_act_layer("relu6"),
        drop_rate=drop_rate,
        drop_path_rate=drop_path_rate,
    )
