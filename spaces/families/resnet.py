"""ResNet (timm ``ResNet``), BasicBlock or Bottleneck, scaled by width and depth.

Reference points: width 1, depth 1 is ResNet-18 (basic) or ResNet-50 (bottleneck), with timm's
"deep" stem (the only one whose width scales). For inputs of 64 px or less the stem and its
max-pool are replaced by one 3x3/1 conv (as for CIFAR), so a 16x16 image still reaches the last
stage as 2x2 instead of vanishing. Below 16 px the earliest stage strides go too, so the last
map keeps at least 2 px, the rule of the other families (``num_downsamples``): an 8x8 digit runs
its stages at 8, 8, 4, 2 px instead of 8, 4, 2, 1. At 1x1 a 3x3 conv reads only its centre tap,
so 8/9 of the last stage's weights -- most of the model's parameters -- were dead weight. Same
parameters, better models: a 21K-param ResNet on digits (20 epochs, 3 seeds) tested 0.968 with
the last map at 1 px, 0.983 at 2 px (at about 3x the FLOPs of 1 px). 4 px (8, 8, 8, 4) tested
0.990, within noise of 2 px, at 7-9x the FLOPs of 1 px, which the widest trials pay in time.
"""

from __future__ import annotations

from scalesearch.spaces.families._scaling import (
    num_downsamples,
    scale_channels,
    scale_depth,
    small_input,
)
from scalesearch.spaces.registry import ModelInput, register_family

_BASE_LAYERS = {"basic": (2, 2, 2, 2), "bottleneck": (3, 4, 6, 3)}
_BASE_CHANNELS = (64, 128, 256, 512)


@register_family(
    "resnet",
    description="timm ResNet (BasicBlock or Bottleneck); width scales channels, depth scales blocks per stage",
    knobs={
        "width_multiplier": {"low": 0.03125, "high": 2.0, "log": True},
        "depth_multiplier": {"low": 0.5, "high": 2.0},
        "block": {"choices": ["basic", "bottleneck"]},
        "drop_rate": {"low": 0.0, "high": 0.5},
        "drop_path_rate": {"low": 0.0, "high": 0.3},
    },
)
def build_resnet(
    io: ModelInput,
    width_multiplier: float = 1.0,
    depth_multiplier: float = 1.0,
    block: str = "basic",
    drop_rate: float = 0.0,
    drop_path_rate: float = 0.0,
):
    from timm.models.resnet import BasicBlock, Bottleneck, ResNet
    from torch import nn

    block_cls = {"basic": BasicBlock, "bottleneck": Bottleneck}[block]
    # Multiples of 4 (not 8) so the smallest ResNets (4-4-8-16 channels at width 1/32) exist.
    channels = tuple(scale_channels(c, width_multiplier, divisor=4) for c in _BASE_CHANNELS)
    layers = [scale_depth(n, depth_multiplier) for n in _BASE_LAYERS[block]]
    model = ResNet(
        block=block_cls,
        layers=layers,
        channels=channels,
        stem_type="deep",  # the only stem timm scales: its width is 2 * stem_width
        stem_width=channels[0] // 2,
        num_classes=io.num_classes,
        in_chans=io.in_chans,
        drop_rate=drop_rate,
        drop_path_rate=drop_path_rate,
    )
    if small_input(io.input_size):
        model.conv1 = nn.Conv2d(io.in_chans, channels[0], 3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
        stages = (model.layer2, model.layer3, model.layer4)
        for stage in stages[: len(stages) - num_downsamples(io.input_size, len(stages))]:
            _unstride(stage)
    return model


def _unstride(stage) -> None:
    """Stride 1 for a stage: its first block's strided conv (3x3) and its shortcut's 1x1 projection."""
    from torch import nn

    for module in stage[0].modules():
        if isinstance(module, nn.Conv2d):
            module.stride = (1, 1)
