"""Run an exported ONNX model with onnxruntime: sessions, logits, accuracy, parity, latency.

A session runs on the CPU execution provider, or on the CUDA one for a ``cuda``/``cuda:N``
device when this onnxruntime has it (the ``onnxruntime-gpu`` wheel); asking for CUDA without it
is a one-line error, never a silent fall-back to the CPU.

Example::

    session = open_session("model/model.onnx", "cpu", threads=1)
    parity = check_parity(session, torch_model, data.test)   # raises OnnxError beyond tolerance
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalesearch.errors import OnnxError

#: Parity holds when max |onnxruntime logit - torch logit| <= ATOL + RTOL * max |torch logit|.
PARITY_ATOL, PARITY_RTOL = 1e-3, 1e-4


def providers(device: str) -> list[Any]:
    """onnxruntime execution providers for a torch device name (``cpu``, ``cuda``, ``cuda:N``)."""
    import onnxruntime as ort

    if not device.startswith("cuda"):
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise OnnxError(f"deploy.runtime onnxruntime on {device} needs onnxruntime's CUDA execution provider "
                        f"(the onnxruntime-gpu wheel); this onnxruntime {ort.__version__} has "
                        f"{', '.join(ort.get_available_providers())}; set deploy.device: cpu or install onnxruntime-gpu")
    index = int(device.split(":")[1]) if ":" in device else 0
    return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]


def open_session(model: str | Path | bytes, device: str = "cpu", threads: int | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` for a model file (or its bytes) on ``device``;
    ``threads`` intra-op CPU threads (None: onnxruntime's default, every physical core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no per-node "not assigned to an EP" notices
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=options, providers=providers(device))


def run_logits(session: Any, x: Any) -> Any:
    """float32 logits (N, classes) of a float32 numpy batch (N, C, H, W)."""
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def numpy_batches(split: Any, batch_size: int) -> Any:
    """``(x, y)`` numpy batches of a dataset split: float32 (N, C, H, W) inputs, int labels."""
    for x, y in split.batches(batch_size, device="cpu"):
        yield x.float().contiguous().numpy(), y.numpy()


def accuracy(session: Any, split: Any, batch_size: int = 256) -> float:
    """Top-1 accuracy of the session's model on a dataset ``split`` (in memory or streamed)."""
    correct = total = 0
    for x, y in numpy_batches(split, batch_size):
        correct += int((run_logits(session, x).argmax(axis=1) == y).sum())
        total += len(y)
    return correct / total if total else 0.0


def agreement(a: Any, b: Any, split: Any, batch_size: int = 256) -> float:
    """Fraction of ``split`` on which sessions ``a`` and ``b`` predict the same top-1 class."""
    same = total = 0
    for x, _ in numpy_batches(split, batch_size):
        same += int((run_logits(a, x).argmax(axis=1) == run_logits(b, x).argmax(axis=1)).sum())
        total += len(x)
    return same / total if total else 1.0


@dataclass(frozen=True)
class Parity:
    """onnxruntime against PyTorch on the same inputs."""

    max_abs_logit_diff: float
    top1_agreement: float  # fraction of samples whose top-1 class is the same
    samples: int
    tolerance: float  # the max_abs_logit_diff allowed (ATOL + RTOL * largest torch logit)

    def as_dict(self) -> dict[str, Any]:
        return {"max_abs_logit_diff": float(f"{self.max_abs_logit_diff:.3g}"),
                "top1_agreement": round(self.top1_agreement, 6), "samples": self.samples,
                "tolerance": float(f"{self.tolerance:.3g}")}


def compare(session: Any, model: Any, split: Any, batch_size: int = 256) -> Parity:
    """Logits of ``session`` and of the float torch ``model`` (CPU, eval) over ``split``."""
    import numpy as np
    import torch

    model = model.cpu().eval()
    worst, largest, agree, total = 0.0, 0.0, 0, 0
    with torch.inference_mode():
        for x, _ in numpy_batches(split, batch_size):
            ours = run_logits(session, x)
            ref = model(torch.from_numpy(x)).float().numpy()
            worst = max(worst, float(np.abs(ours - ref).max()))
            largest = max(largest, float(np.abs(ref).max()))
            agree += int((ours.argmax(axis=1) == ref.argmax(axis=1)).sum())
            total += len(x)
    return Parity(worst, agree / total if total else 1.0, total, PARITY_ATOL + PARITY_RTOL * largest)


def check_parity(session: Any, model: Any, split: Any, what: str = "model.onnx") -> Parity:
    """:func:`compare`, raising :class:`OnnxError` when the logits differ beyond tolerance."""
    parity = compare(session, model, split)
    if not parity.max_abs_logit_diff <= parity.tolerance:  # NaN fails too
        raise OnnxError(f"{what}: onnxruntime logits differ from PyTorch's by up to "
                        f"{parity.max_abs_logit_diff:.3g} (tolerance {parity.tolerance:.3g}; top-1 agreement "
                        f"{parity.top1_agreement:.4f} on {parity.samples} test images); the export is not "
                        "faithful, so it was not kept: report this model family and torch version")
    return parity


def latency_ms(session: Any, shape: tuple[int, ...], batch_size: int, *, warmup: int = 3,
               repeats: int = 15, seconds: float | None = None, seed: int = 0) -> float:
    """Median wall-clock time of one ``session.run`` on ``batch_size`` random float32 inputs
    of ``shape`` (C, H, W) after ``warmup`` runs (host-to-device copies included on CUDA),
    bounded by ``seconds`` as torch's is (``search/compression/measure.py``)."""
    return latency_and_spread(session, shape, batch_size, warmup=warmup, repeats=repeats, seconds=seconds,
                              seed=seed)[0]


def latency_and_spread(session: Any, shape: tuple[int, ...], batch_size: int, *, warmup: int = 3,
                       repeats: int = 15, seconds: float | None = None, seed: int = 0) -> tuple[float, float]:
    """(median, median / fastest) of :func:`latency_ms`'s passes: the spread tells a disturbed
    measurement (``measure.latency_doubt``)."""
    import numpy as np

    from scalesearch.search.compression.measure import median_and_spread, wall_times_ms

    x = np.random.default_rng(seed).standard_normal((batch_size, *shape), dtype=np.float32)
    return median_and_spread(wall_times_ms(functools.partial(run_logits, session), x, warmup, repeats, seconds))
