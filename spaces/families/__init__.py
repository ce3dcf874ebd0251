"""Model families. Each module registers one family; importing this package loads them all."""

from scalesearch.spaces.families import (  # noqa: F401
    convnext,
    efficientnet,
    mobilenetv2,
    mobilenetv3,
    regnet,
    resnet,
    vit,
)
