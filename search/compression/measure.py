"""Cost measurements of a model: parameters, forward FLOPs, serialized size, latency."""

from __future__ import annotations

import io
import statistics
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StaticCost:
    """Costs known before training (they depend only on the architecture)."""

    params: int
    flops: int  # forward FLOPs for one sample (torch FlopCounterMode: 2 per multiply-add)
    size_bytes: int  # bytes of the serialized state_dict

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1e6


@dataclass(frozen=True)
class Latency:
    batch1_ms: float  # median over repeats, one sample
    batch_ms: float  # median over repeats, `batch_size` samples
    batch_size: int
    device: str


def count_params(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: Any, input_shape: tuple[int, ...]) -> int:
    """Forward FLOPs for one input of ``input_shape`` (C, H, W), counted by torch."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros((1, *input_shape), device=device))
    model.train(was_training)
    return int(counter.get_total_flops())


def serialized_size(model: Any) -> int:
    """Bytes of ``torch.save(model.state_dict())``: what a deployed checkpoint weighs."""
    import torch

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


def static_cost(model: Any, input_shape: tuple[int, ...]) -> StaticCost:
    return StaticCost(count_params(model), count_flops(model, input_shape), serialized_size(model))


def input_format(model: Any) -> Any:
    """The memory format a deployed model expects its input in: channels-last when its
    convolution weights are stored that way (a model trained channels-last on a GPU), else NCHW."""
    import torch

    for p in model.parameters():
        if p.dim() == 4 and not p.is_contiguous() and p.is_contiguous(memory_format=torch.channels_last):
            return torch.channels_last
    return torch.contiguous_format


#: Timed passes a time-bounded measurement keeps at least (the median of fewer is one outlier away).
MIN_REPEATS = 3


def wall_times_ms(model: Any, x: Any, warmup: int, repeats: int, seconds: float | None = None) -> list[float]:
    """Wall-clock times of up to ``repeats`` forward passes after up to ``warmup`` (CPU: each call
    returns when its work is done). With ``seconds``, passes stop once that much time has gone
    (warm-up included) and at least one warm-up and :data:`MIN_REPEATS` timed passes ran, as
    ``timeit``'s autorange does: a large model is timed fewer times, a small one all ``repeats``."""
    deadline = None if seconds is None else time.perf_counter() + seconds
    for _ in range(warmup):
        model(x)
        if deadline is not None and time.perf_counter() >= deadline:
            break
    times: list[float] = []
    for _ in range(repeats):
        started = time.perf_counter()
        model(x)
        times.append((time.perf_counter() - started) * 1e3)
        if deadline is not None and len(times) >= MIN_REPEATS and time.perf_counter() >= deadline:
            break
    return times


def _cuda_event_ms(model: Any, x: Any, warmup: int, repeats: int) -> list[float]:
    """GPU times of ``repeats`` forward passes after ``warmup``, from CUDA events recorded on the
    stream around each pass (what the GPU spent, not how long the host took to queue it); one
    synchronisation at the end."""
    import torch

    for _ in range(warmup):
        model(x)
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
              for _ in range(repeats)]
    for start, end in events:
        start.record()
        model(x)
        end.record()
    torch.cuda.synchronize(x.device)
    return [start.elapsed_time(end) for start, end in events]


def _median_ms(model: Any, x: Any, warmup: int, repeats: int, seconds: float | None) -> float:
    import torch

    with torch.inference_mode():
        if x.device.type == "cuda":  # cheap to queue; one synchronisation at the end
            return statistics.median(_cuda_event_ms(model, x, warmup, repeats))
        return statistics.median(wall_times_ms(model, x, warmup, repeats, seconds))


def measure_latency(model: Any, input_shape: tuple[int, ...], device: str, *,
                    batch_size: int = 32, warmup: int = 3, repeats: int = 15,
                    seconds: float | None = None) -> Latency:
    """Median forward latency on ``device`` after warm-up, at batch 1 and ``batch_size``.

    ``seconds`` bounds the time spent per batch size on the CPU (:func:`wall_times_ms`), so timing a
    large model at batch 32 costs about that much instead of ``warmup + repeats`` slow passes.

    Inputs are float32 (a half-precision deployment casts them itself, as in service) in the
    model's own memory format (:func:`input_format`). On CUDA the time comes from CUDA events.
    """
    import torch

    model = model.to(device).eval()
    fmt = input_format(model)

    def batch(n: int) -> Any:
        return torch.randn((n, *input_shape), device=device).contiguous(memory_format=fmt)

    one = _median_ms(model, batch(1), warmup, repeats, seconds)
    many = _median_ms(model, batch(batch_size), warmup, repeats, seconds)
    return Latency(one, many, batch_size, device)
