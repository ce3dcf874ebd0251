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


def num_downsamples(input_size: int, available: int, final_size: int = 2) -> int:
    """How many of a network's ``available`` stride-2 steps to keep so that its last feature map
    is still at least ``final_size`` px: all five at ImageNet sizes (224 -> 7), fewer for small
    inputs (32 -> 2 after four, 8 -> 2 after two). Callers drop the earliest strides first."""
    kept = 0
    while kept < available and input_size // 2 ** (kept + 1) >= final_size:
        kept += 1
    return kept


def nearest(value: float, options: list[int]) -> int:
    """The option closest to ``value``; on a tie, the smaller one."""
    return min(sorted(options), key=lambda o: abs(o - value))
