"""Which torch device a trial runs on, and how many CPU threads it uses."""

from __future__ import annotations

import os
import re

from scalesearch.errors import SpecError

_DEVICE = re.compile(r"^(cpu|cuda|cuda:\d+)$")


def is_device_name(name: str, *, also: tuple[str, ...] = ()) -> bool:
    """``cpu``, ``cuda`` or ``cuda:N`` (or one of the words in ``also``, e.g. ``auto``)."""
    return name in also or bool(_DEVICE.match(name))


def device_type(name: str) -> str:
    """``"cuda"`` for ``cuda``/``cuda:N``, else ``"cpu"``."""
    return "cuda" if name.startswith("cuda") else "cpu"


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when CUDA is available, else ``cpu``; refuses CUDA that is not there."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SpecError(f"device: {name!r} was requested but CUDA is not available here; use device: auto or cpu")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise SpecError(f"device: {name!r} does not exist; this machine has {torch.cuda.device_count()} GPU(s)")
    return name


def available_cores() -> int:
    """Cores this process may use (respects CPU affinity, e.g. under taskset or a container)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def set_threads(threads: int | None) -> int:
    """Give torch ``threads`` CPU threads (default: every available core); returns the count."""
    import torch

    n = threads or available_cores()
    torch.set_num_threads(n)
    return n


def use_device(device: str) -> None:
    """Make ``device`` this process's current GPU (kernels, caches and the CUDA context of a
    worker then stay on its own GPU); nothing for the CPU."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.set_device(torch.device(device))


def reset_peak_memory(device: str) -> None:
    """Start counting the peak GPU memory of ``device`` afresh (nothing for the CPU)."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats(torch.device(device))


def peak_memory_mb(device: str) -> float | None:
    """Peak GPU memory allocated by this process on ``device`` since the last reset, in MB
    (None for the CPU)."""
    if not device.startswith("cuda"):
        return None
    import torch

    return round(torch.cuda.max_memory_allocated(torch.device(device)) / 1e6, 1)
