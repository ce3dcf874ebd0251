"""How many workers to pack on one GPU: as many as its memory holds, as few as reach the best rate.

Small models leave a big GPU mostly idle: one worker's step is a few hundred tiny kernel launches,
so several workers on one GPU (``run --workers N`` with N > #GPUs; ``workers.py`` assigns GPU
``I mod #GPUs``) overlap their launches. More workers also cost memory (each holds its CUDA
context, its model, its optimizer and its data copy) and make latency measurements wait
(``device_share.py``). ``benchmarks/device_check.sh`` measures trials/hour for 1, 2, 4 and 8
workers per GPU and each trial's peak memory (``ss.gpu_peak_mb``), and recommends a count here;
``run --workers auto`` takes :func:`auto_workers` (by memory; unmeasured on a real GPU).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scalesearch.search.config import attrs

#: Fraction of the free GPU memory packed workers may plan to use.
HEADROOM = 0.8
#: A worker's CUDA context and allocator slack, on top of what its trial allocates (MB).
CONTEXT_MB = 600.0
#: A rate within this fraction of the best counts as the best (fewer workers are then preferred).
TIE = 0.05


def fits_in_memory(n_workers: int, free_mb: float | None, peak_mb: float | None) -> bool:
    """Whether ``n_workers`` trials of ``peak_mb`` each (plus a context each) fit in ``free_mb``;
    True when either is unknown."""
    if free_mb is None or peak_mb is None:
        return True
    return n_workers * (peak_mb + CONTEXT_MB) <= HEADROOM * free_mb


def workers_for_memory(free_mb: float, peak_mb: float, cap: int = 8) -> int:
    """The most workers (at least 1, at most ``cap``) whose trials fit in ``free_mb``."""
    n = int(HEADROOM * free_mb // (peak_mb + CONTEXT_MB))
    return max(1, min(cap, n))


def recommend_workers(trials_per_hour: Mapping[int, float], *, free_mb: float | None = None,
                      peak_mb: float | None = None) -> int | None:
    """The fewest workers per GPU whose measured rate is within :data:`TIE` of the best rate
    among the counts that fit in memory; None when nothing was measured."""
    fitting = {n: rate for n, rate in trials_per_hour.items()
               if rate == rate and fits_in_memory(n, free_mb, peak_mb)}  # rate == rate: not NaN
    if not fitting:
        return None
    best = max(fitting.values())
    return min(n for n, rate in fitting.items() if rate >= (1 - TIE) * best)


# ----------------------------------------------------------------- the default: ``run --workers auto``
#
# UNMEASURED on a real GPU: the rule below follows from memory alone (no GPU was at hand when it
# was written); ``benchmarks/device_check.sh`` measures the rates that would confirm or move it.


def auto_workers(device: str, free_mb_per_gpu: Sequence[float], peak_mb: float | None, cap: int = 8) -> int:
    """Workers on this host for ``run --workers auto``: 1 on a CPU machine (or no GPU); on GPUs,
    per GPU as many as fit in the least free GPU's memory (:func:`workers_for_memory`, at most
    ``cap``), times the number of GPUs. Without a measured per-trial peak (a new study) it stays
    1 per GPU: the peak is stored by the first trials (``ss.gpu_peak_mb``), and a resumed run packs."""
    if not device.startswith(("cuda", "auto")) or not free_mb_per_gpu:
        return 1
    per_gpu = 1 if peak_mb is None else workers_for_memory(min(free_mb_per_gpu), peak_mb, cap)
    return per_gpu * len(free_mb_per_gpu)


def study_peak_mb(study: Any) -> float | None:
    """The largest ``ss.gpu_peak_mb`` of the study's finished trials; None before any."""
    import optuna

    state = optuna.trial.TrialState
    key = attrs.metric_key("gpu_peak_mb")
    peaks = [float(t.user_attrs[key]) for t in study.get_trials(deepcopy=False, states=(state.COMPLETE, state.PRUNED))
             if isinstance(t.user_attrs.get(key), int | float)]
    return max(peaks, default=None)


def free_gpu_mb() -> list[float]:
    """Free memory of each visible GPU in MB; empty without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return []
    return [torch.cuda.mem_get_info(i)[0] / 1e6 for i in range(torch.cuda.device_count())]
