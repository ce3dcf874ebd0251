"""ConvNeXt (timm ``ConvNeXt``), four stages, scaled by width and depth.

Reference point: width 1, depth 1 is ConvNeXt-Atto (depths 2-2-6-2, dims 40-80-160-320).
ConvNeXt needs its four stages; its patchify stem (stride 4) is shrunk for small inputs so that
the three stride-2 downsamples still leave at least a 1x1 map (16x16 input -> 16, 8, 4, 2).
"""

from __future__ import annotations

from scalesearch.spaces.families._scaling import scale_channels, scale_depth
from scalesearch.spaces.registry import ModelInput, register_family

_BASE_DEPTHS = (2, 2, 6, 2)
_BASE_DIMS = (40, 80, 160, 320)


def _patch_size(input_size: int) -> int:
    # Keep input / (patch * 8) >= 1 and the stem no larger than ImageNet's 4.
    return max(1, min(4, input_size // 32))


@register_family(
    "convnext",
    description="timm ConvNeXt (Atto at 1x); width scales stage dims, depth scales blocks per stage",
    knobs={
        "width_multiplier": {"low": 0.25, "high": 2.0, "log": True},
        "depth_multiplier": {"low": 0.34, "high": 2.0},
        "drop_rate": {"low": 0.0, "high": 0.5},
        "drop_path_rate": {"low": 0.0, "high": 0.3},
    },
)
def build_convnext(
    io: ModelInput,
    width_multiplier: float = 1.0,
    depth_multiplier: float = 1.0,
    drop_rate: float = 0.0,
    drop_path_rate: float = 0.0,
):
    from timm.models.convnext import ConvNeXt

    return ConvNeXt(
        in_chans=io.in_chans,
        num_classes=io.num_classes,
        depths=tuple(scale_depth(n, depth_multiplier) for n in _BASE_DEPTHS),
        dims=tuple(scale_channels(d, width_multiplier) for d in _BASE_DIMS),
        patch_size=_patch_size(io.input_size),
        drop_rate=drop_rate,
        drop_path_rate=drop_path_rate,
    )
