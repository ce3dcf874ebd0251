"""The one place that uses timm internals (names outside a timm module's ``__all__``).

timm builds EfficientNet and MobileNet-V2/V3 from architecture strings such as
``"ir_r2_k3_s2_e6_c24"`` (inverted residual, 2 repeats, 3x3 kernel, stride 2, expansion 6,
24 channels). The strings live in private ``_gen_*`` generators that fix the variant and refuse
a second ``channel_multiplier``, so ``create_model("efficientnet_b0", channel_multiplier=..)``
raises "multiple values". The families copy the strings (their reference point) and call the
helpers below instead; the public ``EfficientNet`` / ``MobileNetV3`` classes do the rest.
RegNet needs timm's own width generator to know how many stages a config yields.

``tests/test_families.py`` pins this module against timm 1.0.31: each family at width 1,
depth 1 and 224 px has exactly the parameters of the timm model it copies.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from scalesearch.spaces.families._scaling import num_downsamples
from scalesearch.spaces.registry import ModelInput

ArchDef = list[list[str]]


def build_from_arch(model_cls: Any, arch_def: ArchDef, io: ModelInput, width_multiplier: float,
                    depth_multiplier: float, **model_kwargs: Any) -> Any:
    """``model_cls`` (``EfficientNet`` or ``MobileNetV3``) built from ``arch_def`` for ``io``.

    Small inputs give up their earliest downsamples, the stem's first (see ``num_downsamples``),
    so the last feature map stays at least 2 px instead of vanishing.
    """
    from torch import nn

    strided = num_strided_stages(arch_def)
    kept = num_downsamples(io.input_size, strided + 1)
    model = model_cls(
        block_args=block_args(arch_def, depth_multiplier, keep_strides=min(kept, strided)),
        num_classes=io.num_classes,
        in_chans=io.in_chans,
        round_chs_fn=round_chs_fn(width_multiplier),
        **model_kwargs,
    )
    if kept <= strided:
        stem = model.conv_stem
        k = stem.kernel_size[0]
        model.conv_stem = nn.Conv2d(io.in_chans, stem.out_channels, k, stride=1, padding=k // 2, bias=False)
    return model


def block_args(arch_def: ArchDef, depth_multiplier: float, keep_strides: int) -> list[list[dict[str, Any]]]:
    """Decoded block arguments, repeats scaled by ``depth_multiplier`` (timm rounds up, so
    every stage keeps at least one block); only the last ``keep_strides`` stride-2 stages keep
    their stride, the earlier ones become stride 1 (for small inputs)."""
    from timm.models._efficientnet_builder import decode_arch_def

    stages = decode_arch_def(arch_def, depth_multiplier=depth_multiplier, depth_trunc="ceil")
    strided = [s for s in stages if s[0]["stride"] > 1]
    for stage in strided[: max(0, len(strided) - keep_strides)]:
        stage[0]["stride"] = 1
    return stages


def num_strided_stages(arch_def: ArchDef) -> int:
    """How many stages of ``arch_def`` downsample (the stem is one more)."""
    return sum(1 for stage in arch_def if "_s2" in stage[0])


def round_chs_fn(width_multiplier: float) -> Callable[[float], int]:
    """timm's channel rounding for a width multiplier: multiples of 8, at most 10 % down."""
    from timm.models._efficientnet_builder import round_channels

    return partial(round_channels, multiplier=width_multiplier)


def hard_sigmoid_se() -> Callable[..., Any]:
    """MobileNet-V3's squeeze-excite: hard-sigmoid gate, ReLU, reduced channels rounded to 8."""
    from timm.models._efficientnet_blocks import SqueezeExcite
    from timm.models._efficientnet_builder import round_channels
    from torch import nn

    return partial(SqueezeExcite, gate_layer="hard_sigmoid", force_act_layer=nn.ReLU,
                   rd_round_fn=round_channels)


def regnet_num_stages(w0: int, wa: float, wm: float, depth: int, group_size: int) -> int:
    """How many stages timm's ``RegNet`` derives from a config (it only builds exactly 4)."""
    from timm.models.regnet import generate_regnet

    return generate_regnet(wa, w0, wm, depth, group_size)[1]
