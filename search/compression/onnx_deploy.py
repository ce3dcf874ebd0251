"""The ``onnxruntime`` deploy runtime: a trial's model measured as the exported ONNX model.

With ``deploy: {runtime: onnxruntime}`` each trial's float model (pruned and fine-tuned when its
config says so) is exported to ONNX (``search/compression/onnx_export.py``), int8-quantized by
onnxruntime for an int8 config (calibrated on the same ``deploy.calibration_samples`` training
inputs as torch's quantizer), and run by onnxruntime on the deploy device. What a study then
optimizes is what onnxruntime serves:

* ``accuracy``: the ONNX model (int8 when quantized) on the validation split;
* ``size_mb``: bytes of the ``.onnx`` file (weights and graph);
* ``latency_ms``: median ``session.run`` time of ``deploy.batch_size`` samples, with
  ``deploy.threads`` intra-op threads (default: torch's thread count, as the torch runtime
  uses), while no other worker of the host trains on the device (``latency_contended`` as for
  torch: ``search/runtime/device_share.py``); ``latency_ms_batch`` at ``measure.latency_batch_size``.

``params``, ``flops`` and ``nonzero_params`` stay those of the float model, as for torch.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scalesearch.errors import OnnxError
from scalesearch.search.compression.compress import CompressionError, calibration_batches
from scalesearch.search.compression.measure import checked_latency
from scalesearch.search.compression.onnx_export import ONNX_QUANTIZERS, export_onnx, quantize_onnx
from scalesearch.search.compression.onnx_runtime import accuracy, latency_and_spread, open_session
from scalesearch.search.runtime.device_share import device_share

if TYPE_CHECKING:
    from scalesearch.search.config.spec import StudySpec
    from scalesearch.search.datasets import Dataset


def onnx_metrics(float_model: Any, quantization: str, data: Dataset, spec: StudySpec,
                 deploy_device: str, *, flops: float | None = None,
                 reference: Sequence[tuple[float, float]] = ()) -> dict[str, Any]:
    """Accuracy, size and latency of ``float_model`` exported (and quantized as
    ``quantization`` says) and run by onnxruntime on ``deploy_device``. A model that cannot
    be exported or quantized raises ``CompressionError`` (the trial fails with the reason).
    The latency is checked against its ``flops`` and the study's ``reference`` and measured
    again when doubtful, as torch's is (``measure.checked_latency``)."""
    import torch

    shape = (data.in_chans, data.input_size, data.input_size)
    m, d = spec.measure, spec.deploy
    threads = d.threads or torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        try:
            export_onnx(float_model, shape, path)
            if quantization in ONNX_QUANTIZERS:
                calibration = [x.float().numpy() for x in calibration_batches(data.train, d.calibration_samples)]
                quantize_onnx(quantization, path, path.with_suffix(".int8.onnx"), calibration)
                path = path.with_suffix(".int8.onnx")
        except OnnxError as e:
            raise CompressionError(str(e)) from e
        session = open_session(path, deploy_device, threads)
        size = path.stat().st_size
        kw = {"warmup": m.latency_warmup, "repeats": m.latency_repeats, "seconds": m.latency_seconds}

        def measure_once() -> dict[str, Any]:
            with device_share(deploy_device).exclusive() as contended:  # as the torch runtime measures
                batch, spread = latency_and_spread(session, shape, m.latency_batch_size, **kw)
                at_deploy = batch
                if d.batch_size != m.latency_batch_size:
                    at_deploy, other = latency_and_spread(session, shape, d.batch_size, **kw)
                    spread = max(spread, other)
            return {"latency_ms": at_deploy, "latency_ms_batch": batch, "latency_batch_size": m.latency_batch_size,
                    "latency_contended": contended, "spread": spread}

        return {"accuracy": accuracy(session, data.val), "size_bytes": size, "size_mb": size / 1e6,
                **checked_latency(measure_once, flops, reference), "deploy_runtime": "onnxruntime"}
