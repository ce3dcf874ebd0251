"""What ``scalesearch spaces`` shows: every family with its knobs and size range, every preset.

Plain-data answers (JSON-serializable lists of dicts) for the CLI to print::

    describe_families(input_size=8, num_classes=10, in_chans=1)
    # [{"name": "convnext", "description": ..., "knobs": {...},
    #   "smallest": {"width_multiplier": 0.25, "depth_multiplier": 0.34, "params": 114602},
    #   "largest": {...}}, ...]
"""

from __future__ import annotations

import copy
from typing import Any

from scalesearch.spaces.registry import Family, ModelInput, get_family, list_families
from scalesearch.spaces.space import list_presets, load_space

SCALE_KNOBS = ("width_multiplier", "depth_multiplier")


def knob_bounds(knob: dict[str, Any]) -> tuple[Any, Any]:
    """The lowest and highest value a knob's data allows (``low``/``high`` or its choices)."""
    if "choices" in knob:
        return min(knob["choices"]), max(knob["choices"])
    return knob["low"], knob["high"]


def corner(family: Family, width: str, depth: str) -> dict[str, Any]:
    """The width/depth corner of ``family``'s range, e.g. ``corner(f, "low", "high")``."""
    pick = {"low": 0, "high": 1}
    return {
        knob: knob_bounds(family.knobs[knob])[pick[end]]
        for knob, end in zip(SCALE_KNOBS, (width, depth), strict=True)
    }


def count_params(family: Family, io: ModelInput, **params: Any) -> int:
    """Parameters of ``family.build(io, **params)``, built on torch's meta device when the
    family allows it (no memory, no initialisation), on the CPU otherwise."""
    import torch

    try:
        with torch.device("meta"):
            model = family.build(io, **params)
    except (NotImplementedError, RuntimeError):
        model = family.build(io, **params)
    return sum(p.numel() for p in model.parameters())


def describe_family(name: str, io: ModelInput) -> dict[str, Any]:
    """One family: name, description, knobs (its full ranges) and its smallest/largest model."""
    family = get_family(name)
    ends = {"smallest": corner(family, "low", "low"), "largest": corner(family, "high", "high")}
    return {
        "name": family.name,
        "description": family.description,
        "origin": family.origin,  # built-in, "plugin <package>", or the module that registered it
        "knobs": copy.deepcopy(family.knobs),
        **{label: point | {"params": count_params(family, io, **point)} for label, point in ends.items()},
    }


def describe_families(input_size: int, num_classes: int, in_chans: int) -> list[dict[str, Any]]:
    """Every registered family, sized for ``input_size`` px, ``num_classes``, ``in_chans``."""
    io = ModelInput(num_classes=num_classes, in_chans=in_chans, input_size=input_size)
    return [describe_family(name, io) for name in list_families()]


def describe_presets() -> list[dict[str, Any]]:
    """Every shipped space preset: name, description, the input size it was made for, families."""
    described = []
    for name in list_presets():
        space = load_space(name)
        described.append({
            "name": name,
            "description": space.description,
            "input_size": space.input_size,
            "families": list(space.families),
        })
    return described
