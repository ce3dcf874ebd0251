"""Model families. Each module registers one family; importing this package loads them all."""

from scalesearch.spaces.families import convnext, resnet  # noqa: F401
