"""Shared arithmetic for turning width/depth multipliers into channel and block counts."""

from __future__ import annotations


def scale_channels(base: int, width_multiplier: float, divisor: int = 8) -> int:
    """``base * width_multiplier`` rounded to a multiple of ``divisor`` (at least ``divisor``),
    never rounding down by more than 10 % (the rule MobileNet and EfficientNet use)."""
    value = base * width_multiplier
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def scale_depth(base: int, depth_multiplier: float) -> int:
    """``base * depth_multiplier`` rounded to the nearest whole block, at least one."""
    return max(1, round(base * depth_multiplier))


def small_input(input_size: int) -> bool:
    """Inputs this small lose everything to an ImageNet stem (stride 4 before stage 1)."""
    return input_size <= 64
