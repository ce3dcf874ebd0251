"""What a study's ``space.compression`` section may hold, checked without the compressor.

The spec (``search/config/spec.py``, through ``deploy_spec.py``) checks the section here, so
reading a spec imports neither the compression pipeline (``compress.py``) nor the trainer it
fine-tunes with. Names and ranges come from the registries of pruning, sparsity and quantization
(one source of truth); those modules import torch only inside their functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scalesearch.errors import SpecError
from scalesearch.search.compression.prune import (
    ALLOCATIONS,
    MAX_RATIO,
    PROFILES,
    profile_multipliers,
)
from scalesearch.search.compression.quantize import QUANTIZERS
from scalesearch.search.compression.sparsity import MAX_SPARSITY
from scalesearch.spaces.space import Fixed, FloatRange, Param, param_values

#: Knob -> what a space may give it. Names come from their registries (one source of truth).
KNOBS: dict[str, dict[str, Any]] = {
    "pruning_ratio": {"low": 0.0, "high": MAX_RATIO},
    "pruning_allocation": {"choices": ALLOCATIONS},
    "pruning_profile": {"choices": tuple(PROFILES)},  # or one fixed list of multipliers
    "finetune_epochs": {"low": 0, "high": 1000, "int": True},
    "finetune_lr_factor": {"low": 1e-4, "high": 10.0},
    "finetune_fraction": {"low": 0.0, "high": 10.0},
    "sparsity": {"low": 0.0, "high": MAX_SPARSITY},
    "quantization": {"choices": tuple(QUANTIZERS)},
}


def validate_compression(knobs: Mapping[str, Param], deploy_type: str | None,
                         where: str = "space.compression") -> None:
    """Refuse values a knob cannot take, and quantizers that cannot run on ``deploy_type``
    (``"cpu"``/``"cuda"``; None when only known at run time)."""
    for name, param in knobs.items():
        bound, path = KNOBS[name], f"{where}.{name}"
        values = param_values(param)
        if name == "pruning_profile" and isinstance(param, Fixed) and isinstance(param.value, tuple):
            try:
                profile_multipliers(param.value)
            except ValueError as e:
                raise SpecError(f"{path}: {e}") from None
            continue
        if "choices" in bound:
            bad = [v for v in values if v not in bound["choices"]]
            if bad:
                raise SpecError(f"{path}: {bad[0]!r} is not one of {', '.join(map(str, bound['choices']))}")
            continue
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int | float) or not bound["low"] <= v <= bound["high"]:
                raise SpecError(f"{path}: {v!r} is outside [{bound['low']}, {bound['high']}]")
            if bound.get("int") and v != int(v):
                raise SpecError(f"{path}: expected whole epochs, got {v!r}")
        if bound.get("int") and isinstance(param, FloatRange):
            raise SpecError(f"{path}: a range of epochs needs 'type: int'")
    if deploy_type is not None and "quantization" in knobs:
        for name in param_values(knobs["quantization"]):
            if deploy_type not in QUANTIZERS[name].devices:
                runs_on = " or ".join(QUANTIZERS[name].devices)
                raise SpecError(f"{where}.quantization: {name!r} runs on {runs_on} but deploy.device "
                                f"is {deploy_type}; drop it or set deploy.device: {runs_on}")
