"""``example_cnn``: two to six 3x3 conv layers, global pooling and a linear head."""

from scalesearch.spaces import ModelInput, register_family


@register_family(
    "example_cnn",
    description="a plain CNN from an installed plugin (scalesearch-plugin-example)",
    knobs={
        "width_multiplier": {"low": 0.25, "high": 2.0, "log": True},
        "depth_multiplier": {"low": 0.5, "high": 1.5},
        "drop_rate": {"low": 0.0, "high": 0.5},
    },
)
def build_example_cnn(io: ModelInput, width_multiplier: float = 1.0, depth_multiplier: float = 1.0,
                      drop_rate: float = 0.0):
    from torch import nn

    width = max(4, round(16 * width_multiplier))
    layers: list[nn.Module] = []
    channels = io.in_chans
    for _ in range(max(1, round(4 * depth_multiplier))):
        layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(drop_rate),
                         nn.Linear(width, io.num_classes))
