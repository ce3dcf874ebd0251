"""Checks ``scalesearch run`` and ``worker`` make before they write anything to storage.

The spec itself is validated when it is read (``search/config/spec.py``); these checks need the
machine (is there CUDA?) or the command line (how many workers, on which devices).
"""

from __future__ import annotations

from collections.abc import Sequence

from scalesearch.errors import SpecError, option
from scalesearch.search.config.spec import StudySpec
from scalesearch.search.datasets.python_data import require as require_data
from scalesearch.search.runtime.device import is_device_name


def parse_devices(text: str | None) -> list[str]:
    """``"cuda:0,cuda:2"`` -> ``["cuda:0", "cuda:2"]``, each checked for form."""
    if not text:
        return []
    devices = [d.strip() for d in text.split(",")]
    for d in devices:
        if not is_device_name(d):
            raise SpecError(f"--devices: {d!r} is not a device; give a comma list of cpu, cuda or cuda:N, "
                            "e.g. --devices cuda:0,cuda:1")
    return devices


def preflight(spec: StudySpec, workers: int = 1, devices: Sequence[str] = (), caller: str = "cli") -> None:
    """Raise a one-line error for anything that would fail only after the study was created
    (in the ``caller``'s words: ``cli`` or ``python``)."""
    if workers < 1:
        raise SpecError(f"{option(caller, '--workers', 'workers')}: must be 1 or more, got {workers}")
    require_data(spec.dataset)
    if workers > 1 and spec.dataset.kind == "python":
        raise SpecError(f"workers: data given in Python (data=...) lives in this process only; run it with "
                        f"workers=1, not {workers}")
    wanted = [*devices] or [spec.device]
    if any(d.startswith("cuda") for d in wanted):
        from scalesearch.search.runtime.device import resolve_device

        for device in dict.fromkeys(wanted):
            resolve_device(device)
