"""Cost measurements of a model: parameters, forward FLOPs, serialized size, latency.

Latency is a median over several timed passes, and it checks itself (:func:`latency_doubt`):
a measurement whose median is far above its fastest pass was disturbed, and a latency far above
what the model's FLOPs predict from the study's other trials (a robust log-log fit) is an
outlier. A doubtful value is measured again by the deploy step; if it is still doubtful it is
kept but flagged (``latency_suspect``), and the front leaves that trial out
(``search/config/feasibility.py``) rather than trust it. Where a front is decided, the stored
values are checked again against each other (:func:`stored_outliers`, read by
``search/results/report.py``'s ``doubted``): a study's first trials had nothing to be compared with.
"""

from __future__ import annotations

import io
import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
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
    spread: float = 1.0  # the larger median / fastest pass of the two batch sizes (1 = steady)


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


def median_and_spread(times: Sequence[float]) -> tuple[float, float]:
    """(median, median / fastest) of timed passes: a spread far above 1 means disturbed passes."""
    median = statistics.median(times)
    return median, median / min(times) if min(times) > 0 else 1.0


def _median_ms(model: Any, x: Any, warmup: int, repeats: int, seconds: float | None) -> tuple[float, float]:
    """(median, median / fastest) of the timed passes."""
    import torch

    with torch.inference_mode():
        if x.device.type == "cuda":  # cheap to queue; one synchronisation at the end
            times = _cuda_event_ms(model, x, warmup, repeats)
        else:
            times = wall_times_ms(model, x, warmup, repeats, seconds)
    return median_and_spread(times)


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

    one, spread_one = _median_ms(model, batch(1), warmup, repeats, seconds)
    many, spread_many = _median_ms(model, batch(batch_size), warmup, repeats, seconds)
    return Latency(one, many, batch_size, device, max(spread_one, spread_many))


#: A latency this many times what the study's other trials predict for its FLOPs is an outlier.
OUTLIER_FACTOR = 5.0
#: Other measured trials needed before the study-relative check applies.
MIN_REFERENCE = 4
#: A measurement whose median is this many times its fastest pass was disturbed while it ran.
UNSTEADY = 3.0


def latency_reference(metrics: Iterable[Mapping[str, Any]], device: str) -> list[tuple[float, float]]:
    """``(flops, latency_ms)`` of trials measured on ``device`` whose latency was not flagged:
    what :func:`latency_outlier` compares a new measurement with."""
    return [(float(m["flops"]), float(m["latency_ms"])) for m in metrics
            if m.get("deploy_device") == device and not m.get("latency_suspect")
            and isinstance(m.get("flops"), int | float) and isinstance(m.get("latency_ms"), int | float)
            and m["flops"] > 0 and m["latency_ms"] > 0]


def latency_outlier(flops: float, ms: float, reference: Sequence[tuple[float, float]],
                    factor: float = OUTLIER_FACTOR) -> str | None:
    """Why ``ms`` is far above what ``flops`` predicts from ``reference`` (other trials'
    ``(flops, ms)``), or None. The prediction is a robust fit of log latency on log FLOPs
    (Theil-Sen slope, clipped to [0, 1.5]; median intercept); the value is an outlier when it
    exceeds the prediction by ``factor`` and by 4 robust standard deviations of the others' scatter."""
    fit = _log_fit(reference)
    if fit is None or flops <= 0 or ms <= 0:
        return None
    slope, intercept, centre, scatter, n = fit
    excess = math.log(ms) - (intercept + slope * math.log(flops))
    if excess > max(math.log(factor), 4 * scatter):
        predicted = math.exp(intercept + slope * math.log(flops) + centre)
        return (f"latency {ms:.3g} ms is {ms / predicted:.0f}x what its {flops:.3g} FLOPs predict "
                f"from {n} other trials ({predicted:.3g} ms)")
    return None


def _log_fit(reference: Sequence[tuple[float, float]]) -> tuple[float, float, float, float, int] | None:
    """``(slope, intercept, median residual, robust scatter, points)`` of log latency on log FLOPs,
    or None with fewer than :data:`MIN_REFERENCE` points."""
    points = [(math.log(f), math.log(t)) for f, t in reference if f > 0 and t > 0]
    if len(points) < MIN_REFERENCE:
        return None
    slopes = [(y2 - y1) / (x2 - x1) for i, (x1, y1) in enumerate(points) for x2, y2 in points[i + 1:] if x2 != x1]
    slope = min(1.5, max(0.0, statistics.median(slopes))) if slopes else 0.0
    intercept = statistics.median(y - slope * x for x, y in points)
    residuals = [y - intercept - slope * x for x, y in points]
    centre = statistics.median(residuals)
    return slope, intercept, centre, 1.4826 * statistics.median(abs(r - centre) for r in residuals), len(points)


def stored_outliers(measured: Mapping[int, Mapping[str, Any]]) -> dict[int, str]:
    """Trial -> why its stored latency is an outlier (:func:`latency_outlier`) against the other
    trials measured on its device, for trials not flagged already: the check each measurement got
    when it was taken, made again over the study as it is now, since the first
    :data:`MIN_REFERENCE` trials had nothing to be compared with and the rest fewer trials than
    now. ``measured``: trial number -> its exact metrics. Deterministic, nothing re-measured or
    stored; one fit per device picks the values above it, and only those are checked against
    the others alone."""
    by_device: dict[Any, dict[int, tuple[float, float]]] = {}
    for number, metrics in measured.items():
        device = metrics.get("deploy_device")
        for point in latency_reference([metrics], device):
            by_device.setdefault(device, {})[number] = point
    found: dict[int, str] = {}
    for points in by_device.values():
        fit = _log_fit(list(points.values()))
        if fit is None:
            continue
        slope, intercept, _, _, _ = fit
        for number, (flops, ms) in points.items():
            if math.log(ms) - (intercept + slope * math.log(flops)) <= math.log(OUTLIER_FACTOR) / 2:
                continue  # well below any value the check could doubt
            others = [p for n, p in points.items() if n != number]
            reason = latency_outlier(flops, ms, others)
            if reason is not None:
                found[number] = reason
    return found


def latency_doubt(ms: float, spread: float, flops: float | None,
                  reference: Sequence[tuple[float, float]]) -> str | None:
    """Why a latency measurement should not be trusted as it is, or None: its passes were
    unsteady (median over :data:`UNSTEADY` times the fastest), or it is an outlier for its FLOPs."""
    if spread > UNSTEADY:
        return f"latency {ms:.3g} ms: its median is {spread:.1f}x its fastest pass (disturbed while measured)"
    return latency_outlier(flops, ms, reference) if flops else None


def checked_latency(measure_once: Callable[[], dict[str, Any]], flops: float | None,
                    reference: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """Latency metrics from ``measure_once`` (``latency_ms`` and the passes' ``spread``, which
    is dropped), on any runtime. A doubtful value (:func:`latency_doubt`) is measured again;
    still an outlier for its ``flops``, it is kept, flagged ``latency_suspect`` with the reason,
    and left off the front (unsteady twice is a busy machine: the lower is kept, unflagged)."""
    first = measure_once()
    if latency_doubt(first["latency_ms"], first.pop("spread"), flops, reference) is None:
        return first
    again = measure_once()
    if latency_doubt(again["latency_ms"], again.pop("spread"), flops, reference) is None:
        return again | {"latency_remeasured": 1}
    best = min((first, again), key=lambda m: m["latency_ms"])
    still = latency_outlier(flops, best["latency_ms"], reference) if flops else None
    return best | {"latency_remeasured": 1} | ({"latency_suspect": still} if still else {})
