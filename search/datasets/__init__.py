"""Datasets: kinds chosen by ``dataset.kind`` (digits, imagefolder, torchvision, synthetic),
decoded once and cached by content, split stratified and recorded in the study, served to the
trainer as in-memory tensors (on the GPU when there is one) or streamed by DataLoader workers.

The trainer sees only ``Dataset`` and its splits' ``len`` / ``num_batches`` / ``batches``.

The names below are imported on first use, so that a light module of the package (``spec``,
``kinds_spec``: what reading a study spec needs) does not bring in the loaders.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module that defines it.
_WHERE = {"Augment": "augment", "DataClock": "base", "Dataset": "base", "Split": "base",
          "clear_memory_cache": "cache", "load_dataset": "load", "DATASETS": "registry", "get_kind": "registry"}

__all__ = ["DATASETS", "Augment", "DataClock", "Dataset", "Split", "clear_memory_cache", "get_kind",
           "load_dataset"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
