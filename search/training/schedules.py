"""The learning-rate schedules the trainer has, by name, without the trainer.

The spec (``search/config/spec.py``) checks ``space.training.schedule`` here at load, so that no
trial fails on an unknown name and reading a spec does not import the trainer.
"""

from __future__ import annotations

from collections.abc import Iterable

from scalesearch.errors import SpecError

SCHEDULES = ("cosine", "onecycle")


def check_schedules(names: Iterable[str]) -> None:
    """Refuse a schedule the trainer does not have (at spec load, so that no trial fails on it)."""
    for name in names:
        if name not in SCHEDULES:
            raise SpecError(f"space.training.schedule: unknown schedule {name!r}; choose from {', '.join(SCHEDULES)}")
