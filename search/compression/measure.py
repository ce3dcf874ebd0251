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


def _median_ms(model: Any, x: Any, warmup: int, repeats: int, sync: Any) -> float:
    import torch

    with torch.inference_mode():
        for _ in range(warmup):
            model(x)
        sync()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            model(x)
            sync()
            times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)


def measure_latency(model: Any, input_shape: tuple[int, ...], device: str, *,
                    batch_size: int = 32, warmup: int = 3, repeats: int = 15) -> Latency:
    """Median wall-clock forward latency on ``device`` after warm-up, at batch 1 and ``batch_size``."""
    import torch

    model = model.to(device).eval()
    sync = (lambda: torch.cuda.synchronize(device)) if device.startswith("cuda") else (lambda: None)
    one = _median_ms(model, torch.randn((1, *input_shape), device=device), warmup, repeats, sync)
    many = _median_ms(model, torch.randn((batch_size, *input_shape), device=device), warmup, repeats, sync)
    return Latency(one, many, batch_size, device)
