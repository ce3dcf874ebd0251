"""What a study's ``space.compression`` section may hold, checked without the compressor.

The spec (``search/config/spec.py``, through ``deploy_spec.py``) checks the section here, so
reading a spec imports neither the compression pipeline (``compress.py``) nor the trainer it
fine-tunes with, nor the pruning, sparsity and quantization code: the names and ranges live here
(one source of truth), and ``prune.py``, ``sparsity.py`` and ``quantize.py`` take theirs from here
(``tests/compression/test_quantize.py`` checks that the quantizers are exactly the names below).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scalesearch.errors import SpecError
from scalesearch.spaces.space import Fixed, FloatRange, Param, param_values

#: How structured pruning shares its ratio out over the layers (search/compression/prune.py).
ALLOCATIONS = ("global", "uniform")

#: Named per-stage profiles: multipliers of the pruning ratio, interpolated over the stages.
PROFILES: dict[str, tuple[float, ...]] = {
    "flat": (1.0,),
    "later": (0.5, 1.5),
    "earlier": (1.5, 0.5),
}

#: No layer (global allocation) and no stage (profiles) loses more than this fraction.
MAX_RATIO = 0.9

#: The largest fraction of weights unstructured sparsity may zero (search/compression/sparsity.py).
MAX_SPARSITY = 0.99

#: Each quantization by name, and the device types it deploys on (search/compression/quantize.py).
QUANTIZATION_DEVICES: dict[str, tuple[str, ...]] = {
    "none": ("cpu", "cuda"),
    "int8_dynamic": ("cpu",),
    "int8_static": ("cpu",),
    "bf16": ("cuda",),
    "fp16": ("cuda",),
}

Profile = str | Sequence[float]


def profile_multipliers(profile: Profile) -> tuple[float, ...]:
    """The multipliers of a named or explicit profile; ``ValueError`` for unknown or negative."""
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise ValueError(f"unknown pruning profile {profile!r}; choose from {', '.join(PROFILES)} or give a list")
        return PROFILES[profile]
    values = tuple(float(v) for v in profile)
    if not values or any(v < 0 for v in values):
        raise ValueError(f"a pruning profile is a non-empty list of non-negative multipliers, got {list(profile)}")
    return values


#: Knob -> what a space may give it.
KNOBS: dict[str, dict[str, Any]] = {
    "pruning_ratio": {"low": 0.0, "high": MAX_RATIO},
    "pruning_allocation": {"choices": ALLOCATIONS},
    "pruning_profile": {"choices": tuple(PROFILES)},  # or one fixed list of multipliers
    "finetune_epochs": {"low": 0, "high": 1000, "int": True},
    "finetune_lr_factor": {"low": 1e-4, "high": 10.0},
    "finetune_fraction": {"low": 0.0, "high": 10.0},
    "sparsity": {"low": 0.0, "high": MAX_SPARSITY},
    "quantization": {"choices": tuple(QUANTIZATION_DEVICES)},
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
            if deploy_type not in QUANTIZATION_DEVICES[name]:
                runs_on = " or ".join(QUANTIZATION_DEVICES[name])
                raise SpecError(f"{where}.quantization: {name!r} runs on {runs_on} but deploy.device "
                                f"is {deploy_type}; drop it or set deploy.device: {runs_on}")
