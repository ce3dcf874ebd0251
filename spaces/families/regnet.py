"""RegNet X/Y (timm ``RegNet``), scaled by width and depth.

Reference point: width 1, depth 1 is RegNetX-200MF (``w0=24, wa=36.44, wm=2.49``, 13 blocks in
stages of 1-1-4-7, group width 8); variant "y" adds squeeze-excite (RegNetY-200MF).

A RegNet config is not free: timm asserts ``w0 % 8 == 0`` and that the width rule yields exactly
four stages, which fails for many depths. So width scales ``w0`` (rounded to a multiple of 8)
and ``wa`` by the same factor, and depth stretches the block index (``wa`` shrinks as blocks
are added), which keeps the four stage widths and multiplies the blocks in each; a depth that
still quantizes to three or five stages is moved to the nearest one that gives four. Stage
widths are ``w0 * wm**k``, so width moves in steps of 8 in ``w0``: the range holds six distinct
widths (w0 = 8 ... 48). Inputs of 64 px or less get a stride-1 stem.
"""

from __future__ import annotations

from dataclasses import dataclass

from scalesearch.spaces.families import _timm_blocks
from scalesearch.spaces.families._scaling import (
    num_downsamples,
    scale_channels,
    scale_depth,
    small_input,
)
from scalesearch.spaces.registry import ModelInput, register_family

_W0, _WA, _WM, _DEPTH, _GROUP = 24, 36.44, 2.49, 13, 8


@dataclass(frozen=True)
class RegNetArch:
    """The resolved RegNet config (the nearest buildable one)."""

    w0: int
    wa: float
    wm: float
    depth: int
    group_size: int


def _arch(w0: int, depth: int) -> RegNetArch:
    # Stretch the block index so that the last block reaches the reference's last width.
    wa = _WA * (w0 / _W0) * (_DEPTH - 1) / max(1, depth - 1)
    return RegNetArch(w0, wa, _WM, depth, _GROUP)


def regnet_arch(width_multiplier: float, depth_multiplier: float) -> RegNetArch:
    """The buildable config nearest to ``(width_multiplier, depth_multiplier)``."""
    w0 = scale_channels(_W0, width_multiplier)  # a multiple of 8, as timm requires
    wanted = max(4, scale_depth(_DEPTH, depth_multiplier))
    for depth in sorted(range(4, wanted + 2 * _DEPTH), key=lambda d: (abs(d - wanted), d)):
        arch = _arch(w0, depth)
        if _timm_blocks.regnet_num_stages(arch.w0, arch.wa, arch.wm, arch.depth, arch.group_size) == 4:
            return arch
    raise ValueError(f"no four-stage RegNet near depth {wanted} for w0={w0}")  # not reached in range


@register_family(
    "regnet",
    description="timm RegNet X/Y (200MF at 1x); width scales w0 and wa, depth scales blocks per stage",
    knobs={
        "width_multiplier": {"low": 0.25, "high": 2.0, "log": True},
        "depth_multiplier": {"low": 0.5, "high": 2.0},
        "variant": {"choices": ["x", "y"]},
        "drop_rate": {"low": 0.0, "high": 0.5},
        "drop_path_rate": {"low": 0.0, "high": 0.3},
    },
)
def build_regnet(
    io: ModelInput,
    width_multiplier: float = 1.0,
    depth_multiplier: float = 1.0,
    variant: str = "x",
    drop_rate: float = 0.0,
    drop_path_rate: float = 0.0,
):
    from timm.layers import ConvNormAct
    from timm.models.regnet import RegNet, RegNetCfg

    arch = regnet_arch(width_multiplier, depth_multiplier)
    cfg = RegNetCfg(w0=arch.w0, wa=arch.wa, wm=arch.wm, depth=arch.depth,
                    group_size=arch.group_size, se_ratio=0.25 if variant == "y" else 0.0,
                    stem_width=scale_channels(32, width_multiplier))
    # Small inputs: a stride-1 stem, and the stages keep 3 or 4 of their 4 downsamples (timm
    # dilates the stages it does not downsample; dilation on maps this small only costs time).
    stage_strides = max(3, num_downsamples(io.input_size, 4))
    model = RegNet(
        cfg,
        in_chans=io.in_chans,
        num_classes=io.num_classes,
        output_stride=2 ** (stage_strides + 1) if small_input(io.input_size) else 32,
        drop_rate=drop_rate,
        drop_path_rate=drop_path_rate,
    )
    if small_input(io.input_size):
        model.stem = ConvNormAct(io.in_chans, cfg.stem_width, 3, stride=1)
    return model
