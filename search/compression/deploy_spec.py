"""The ``deploy:`` section of a study spec: where the deployed model is measured, checked here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scalesearch.errors import SpecError
from scalesearch.search.compression.knobs import validate_compression
from scalesearch.search.runtime.device import device_type, is_device_name


@dataclass(frozen=True)
class DeploySpec:
    """Where the deployed (possibly compressed) model is measured: latency, size, accuracy."""

    device: str = "same"  # same (the trial's device) | cpu | cuda | cuda:N
    batch_size: int = 1  # latency_ms is one forward pass of this many samples
    threads: int | None = None  # CPU threads while measuring on the CPU; None = the study's
    calibration_samples: int = 512  # training inputs for int8_static ranges and BatchNorm after pruning
    runtime: str = "torch"  # what runs the deployed model: torch | onnxruntime (the exported ONNX model)


#: deploy.runtime -> what it measures. ``onnxruntime``: search/compression/onnx_deploy.py.
RUNTIMES = {
    "torch": "the PyTorch model (torch int8 kernels for int8 quantizations)",
    "onnxruntime": "the exported ONNX model on onnxruntime (CPU execution provider, CUDA where installed)",
}


def deploy_device_type(deploy_device: str, device: str) -> str | None:
    """``"cpu"``/``"cuda"`` the deployed model runs on; None while it depends on ``auto``."""
    name = device if deploy_device == "same" else deploy_device
    return None if name == "auto" else device_type(name)


def validate_deploy(deploy: DeploySpec, device: str, compression: Mapping[str, Any]) -> None:
    """Check the ``deploy`` section, and that its device can run every searched quantizer."""
    if not is_device_name(deploy.device, also=("same",)):
        raise SpecError(f"deploy.device: expected same, cpu, cuda or cuda:N, got {deploy.device!r}")
    for name in ("batch_size", "threads", "calibration_samples"):
        value = getattr(deploy, name)
        if value is not None and value <= 0:
            raise SpecError(f"deploy.{name}: must be positive, got {value}")
    if deploy.runtime not in RUNTIMES:
        raise SpecError(f"deploy.runtime: {deploy.runtime!r} is not one of {', '.join(RUNTIMES)}")
    validate_compression(compression, deploy_device_type(deploy.device, device))
    if deploy.runtime == "onnxruntime":
        check_onnx_deploy(deploy_device_type(deploy.device, device), compression)


def check_onnx_deploy(deploy_type: str | None, compression: Mapping[str, Any]) -> None:
    """Refuse what the onnxruntime deploy runtime cannot measure: half-precision quantizers
    (no ONNX counterpart, search/compression/onnx_export.py) and CUDA without onnxruntime's
    CUDA execution provider (checked once the device is known)."""
    from scalesearch.search.compression.onnx_export import UNSUPPORTED
    from scalesearch.spaces.space import param_values

    quantizers = param_values(compression["quantization"]) if "quantization" in compression else ()
    half = [q for q in quantizers if q in UNSUPPORTED]
    if half:
        raise SpecError(f"space.compression.quantization: {half[0]!r} has no ONNX counterpart for "
                        "deploy.runtime onnxruntime; drop it or use deploy.runtime: torch")
    if deploy_type == "cuda":
        from scalesearch.errors import OnnxError
        from scalesearch.search.compression.onnx_runtime import providers

        try:
            providers("cuda")
        except OnnxError as e:
            raise SpecError(str(e)) from None
