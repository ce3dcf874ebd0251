"""What a trial's deployed model will cost, known before it trains.

Early stopping ranks a running trial against its peers, and constraints are checked before
training, on the cost metrics (params, FLOPs, size). A compressed trial's deployed costs are
those of the pruned and quantized model, so they are what every trial must be judged on, from
its first epoch: comparing a running trial's uncompressed costs with finished peers' compressed
ones ranks unlike with unlike (int8 is about 4x smaller on disk), and checking a constraint on
the uncompressed model stops a trial whose compression would have met it.

:func:`planned_costs` compresses an untrained copy of the model the way the trial's config
says (the same pruning rule and allocation, the same quantizer) and measures it. Uniform
pruning and quantization depend only on the architecture, so those costs are exact; global
pruning picks channels by weight magnitude, which training changes, so its costs are an
estimate (the deployed model's measured costs replace them when the trial completes).
Sparsity zeroes weights without removing them, so it changes none of these costs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from scalesearch.search.compression.compress import (
    CompressionConfig,
    CompressionError,
    calibration_batches,
)
from scalesearch.search.compression.measure import (
    count_flops,
    count_params,
    serialized_size,
    static_cost,
)
from scalesearch.search.datasets import Dataset

#: Inputs used to trace the model for pruning and to calibrate a static quantizer (sizes do not
#: depend on the calibration, so a few suffice).
ESTIMATE_SAMPLES = 32


def planned_costs(model: Any, data: Dataset, cc: CompressionConfig) -> dict[str, Any]:
    """``params``, ``flops``, ``size_bytes``, ``size_mb`` of ``model`` deployed as ``cc`` says.

    ``model`` (untrained, on the CPU) is not changed.
    """
    from scalesearch.search.compression import prune, quantize

    shape = (data.in_chans, data.input_size, data.input_size)
    float_model = copy.deepcopy(model).cpu().eval()
    calibration = calibration_batches(data.train, ESTIMATE_SAMPLES)
    example = calibration[0][:2]
    if cc.pruning_ratio > 0:
        prune.prune(float_model, example, cc.pruning_ratio, cc.pruning_allocation, cc.pruning_profile)
    deployed = float_model
    if cc.quantization != "none":
        deployed, _ = quantize.quantize(cc.quantization, copy.deepcopy(float_model), example, calibration)
    size = serialized_size(deployed)
    return {"params": count_params(float_model), "flops": count_flops(float_model, shape),
            "size_bytes": size, "size_mb": size / 1e6}


def costs_before_training(model: Any, data: Dataset, compression: Mapping[str, Any] | None) -> dict[str, Any]:
    """The trial's deployed costs as known before training: :func:`planned_costs` for a config
    that compresses, the model's own costs otherwise. A compression that cannot be applied
    raises :class:`CompressionError` now, instead of after training."""
    cc = CompressionConfig.from_data(compression)
    if not cc.active:
        cost = static_cost(model, (data.in_chans, data.input_size, data.input_size))
        return {"params": cost.params, "flops": cost.flops, "size_bytes": cost.size_bytes, "size_mb": cost.size_mb}
    try:
        return planned_costs(model, data, cc)
    except (RuntimeError, ValueError, TypeError, AttributeError, NotImplementedError) as e:
        raise CompressionError(f"compressing {type(model).__name__} as configured failed before training: "
                               f"{type(e).__name__}: {e}") from e
