"""Measure a trained model as it will be deployed: compressed as its config says, on the
spec's deploy device, at the deploy batch size and thread count, on the deploy runtime
(``deploy.runtime``: ``torch``, or ``onnxruntime`` for the exported ONNX model, whose accuracy,
size and latency then replace torch's: ``search/compression/onnx_deploy.py``).

:func:`deploy_trial` is the objective's one call after training. For a config without
compression it measures the trained model (costs and latency on the deploy device, accuracy as
trained). With compression it also records the uncompressed model's numbers
(``*_uncompressed``), runs ``search/compression/compress.py``, and returns the deployed model's
accuracy, params, FLOPs, size and latency. Those are the objective values.

How each deployed metric is measured:

* ``accuracy``: the deployed (e.g. int8) model on the validation split, on the deploy device,
  plain inference (no autocast) -- one definition for every trial, compressed or not. The
  trainer's last validation is that number when it ran the same way (on the CPU, deployed on
  the CPU); on CUDA it is bf16 autocast, so the deployed model is evaluated again;
* ``params``, ``flops``: of the float model just before quantization (quantization changes the
  number format, not the count of weights or multiply-adds; torch's FLOP counter does not see
  quantized kernels);
* ``size_mb``: the serialized state dict of the deployed model (int8 weights, packed);
* ``nonzero_params``: non-zero weights of the float model (sparsity shows here, not in size);
* ``latency_ms``: median forward time of ``deploy.batch_size`` samples on ``deploy.device``
  with ``deploy.threads`` CPU threads (CUDA: from CUDA events), float32 inputs in the model's
  memory format; ``latency_ms_batch`` at ``measure.latency_batch_size``. Measured while no
  other worker of the host trains on that device, or marked ``latency_contended``. A value that
  fails its check (unsteady passes, or far above what its FLOPs predict from the study's other
  trials: ``measure.latency_doubt``) is measured again; still an outlier, it is
  flagged ``latency_suspect`` and the trial is left off the front.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from scalesearch.search.compression.compress import CompressionConfig, compress
from scalesearch.search.compression.knobs import validate_compression
from scalesearch.search.compression.measure import (
    checked_latency,
    count_flops,
    count_params,
    measure_latency,
    serialized_size,
)
from scalesearch.search.compression.sparsity import count_nonzero
from scalesearch.search.datasets import Dataset
from scalesearch.search.runtime.device import device_type
from scalesearch.search.runtime.device_share import device_share
from scalesearch.search.training.train import TrainConfig, Trainer, TrainResult, train

if TYPE_CHECKING:
    from scalesearch.search.config.spec import StudySpec


def resolve_deploy_device(deploy_device: str, device: str) -> str:
    """The torch device deployed models are measured on (``same`` = the trial's ``device``)."""
    from scalesearch.errors import SpecError
    from scalesearch.search.runtime.device import resolve_device

    if deploy_device == "same":
        return device
    try:
        return resolve_device(deploy_device)
    except SpecError as e:
        raise SpecError(f"deploy.{e}") from None


def check_deploy(spec: StudySpec, device: str) -> None:
    """Refuse, before any trial runs, quantizers the resolved deploy device cannot run."""
    deployed = resolve_deploy_device(spec.deploy.device, device)
    validate_compression(spec.space.compression, device_type(deployed))
    if spec.deploy.runtime == "onnxruntime":
        from scalesearch.search.compression.deploy_spec import check_onnx_deploy

        check_onnx_deploy(device_type(deployed), spec.space.compression)


@contextlib.contextmanager
def cpu_threads(threads: int | None, device: str) -> Iterator[None]:
    """Run the block with ``threads`` torch CPU threads (when measuring on the CPU)."""
    import torch

    if threads is None or not device.startswith("cpu"):
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def latency_metrics(model: Any, shape: tuple[int, ...], device: str, spec: StudySpec, *,
                    flops: float | None = None, reference: Sequence[tuple[float, float]] = ()) -> dict[str, Any]:
    """``latency_ms`` at ``deploy.batch_size`` and ``latency_ms_batch`` at the measure batch,
    measured while no other worker of this host trains on ``device`` (``latency_contended``:
    whether others still did after waiting, see ``search/runtime/device_share.py``). A doubtful
    value (unsteady, or an outlier for its ``flops`` against the study's ``reference``:
    ``measure.latency_doubt``) is measured again; still an outlier, it is kept, flagged
    ``latency_suspect`` with the reason, and left off the front (unsteady twice: the lower is kept)."""
    return checked_latency(lambda: _latency_once(model, shape, device, spec), flops, reference)


def _latency_once(model: Any, shape: tuple[int, ...], device: str, spec: StudySpec) -> dict[str, Any]:
    m, d = spec.measure, spec.deploy
    kw = {"warmup": m.latency_warmup, "repeats": m.latency_repeats, "seconds": m.latency_seconds}
    with device_share(device).exclusive() as contended, cpu_threads(d.threads, device):
        latency = measure_latency(model, shape, device, batch_size=m.latency_batch_size, **kw)
        spread = latency.spread
        if d.batch_size == 1:
            at_deploy = latency.batch1_ms
        elif d.batch_size == m.latency_batch_size:
            at_deploy = latency.batch_ms
        else:
            extra = measure_latency(model, shape, device, batch_size=d.batch_size, **kw)
            at_deploy, spread = extra.batch_ms, max(spread, extra.spread)
    return {"latency_ms": at_deploy, "latency_ms_batch": latency.batch_ms,
            "latency_batch_size": latency.batch_size, "latency_contended": contended, "spread": spread}


def _costs(float_model: Any, deployed: Any, shape: tuple[int, ...],
           known: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Params, FLOPs and size depend on the architecture only: ``known`` ones (counted before
    training on the same architecture) are not counted again; nonzero weights always are."""
    if known is None:
        size = serialized_size(deployed)
        known = {"params": count_params(float_model), "flops": count_flops(float_model, shape),
                 "size_bytes": size, "size_mb": size / 1e6}
    costs = {k: known[k] for k in ("params", "flops", "size_bytes", "size_mb")}
    return costs | {"nonzero_params": count_nonzero(float_model)}


def _measured(float_model: Any, deployed: Any, quantization: str, shape: tuple[int, ...],
              deploy_device: str, data: Dataset, spec: StudySpec, flops: float | None = None,
              reference: Sequence[tuple[float, float]] = ()) -> dict[str, Any]:
    """Latency of the deployed model on ``deploy.runtime``. ``onnxruntime`` runs the exported
    ONNX model instead and also measures its accuracy and file size, which replace torch's
    (``search/compression/onnx_deploy.py``)."""
    if spec.deploy.runtime == "onnxruntime":
        from scalesearch.search.compression.onnx_deploy import onnx_metrics

        return onnx_metrics(float_model, quantization, data, spec, deploy_device, flops=flops, reference=reference)
    return latency_metrics(deployed, shape, deploy_device, spec, flops=flops, reference=reference)


def deployed_accuracy(model: Any, result: TrainResult, data: Dataset, device: str, deploy_device: str) -> float:
    """Validation accuracy of the trained (uncompressed) ``model`` as deployed: plain inference on
    ``deploy_device``. The trainer's last evaluation (``result``) is reused when it was exactly
    that (trained and deployed on the CPU); otherwise the model is evaluated on the deploy device."""
    from scalesearch.search.compression.compress import accuracy

    if device_type(device) == "cpu" and device_type(deploy_device) == "cpu":
        return result.val_accuracy
    return accuracy(model.to(deploy_device), data.val, deploy_device)


def deploy_trial(model: Any, config: dict[str, Any], result: TrainResult, data: Dataset,
                 spec: StudySpec, device: str, train_cfg: TrainConfig,
                 trainer: Trainer = train, planned: Mapping[str, Any] | None = None,
                 reference: Sequence[tuple[float, float]] = ()) -> dict[str, Any]:
    """Metrics of the deployed model (objective values first), plus compression facts.

    ``planned``: the costs counted before training (``search/compression/estimate.py``); for a
    trial that does not compress they are the trained model's own and are reused.
    ``reference``: the study's other trials' ``(flops, latency_ms)`` on this deploy device, which
    a latency is checked against (``measure.latency_reference``)."""
    from scalesearch.search.compression.compress import accuracy

    deploy_device = resolve_deploy_device(spec.deploy.device, device)
    shape = (data.in_chans, data.input_size, data.input_size)
    cc = CompressionConfig.from_data(config.get("compression"))
    known = None if cc.active else planned
    metrics: dict[str, Any] = {"accuracy": deployed_accuracy(model, result, data, device, deploy_device),
                               **_costs(model, model, shape, known)}
    metrics |= _measured(model, model, "none", shape, deploy_device, data, spec, metrics["flops"], reference)
    metrics["deploy_device"] = deploy_device
    if not cc.active:
        return metrics
    before = {f"{k}_uncompressed": metrics[k]
              for k in ("accuracy", "params", "flops", "size_mb", "latency_ms", "nonzero_params")}
    before |= {f"{k}_uncompressed": metrics.pop(k) for k in ("latency_suspect", "latency_remeasured") if k in metrics}
    out = compress(model, data, cc, train_cfg=train_cfg, device=device, deploy_device=deploy_device,
                   trainer=trainer, calibration_samples=spec.deploy.calibration_samples)
    deployed = {"accuracy": accuracy(out.model, data.val, deploy_device), **_costs(out.float_model, out.model, shape)}
    deployed |= _measured(out.float_model, out.model, cc.quantization, shape, deploy_device, data, spec,
                          deployed["flops"], reference)
    return metrics | before | out.record | deployed
