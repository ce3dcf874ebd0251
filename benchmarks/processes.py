"""Process hygiene for benchmark pools: workers that die with their parent."""

from __future__ import annotations

import signal

from scalesearch.search.runtime.workers import parent_death_signal


def die_with_parent() -> None:
    """Have Linux SIGKILL this process when its parent dies: an initializer for pool workers,
    which would otherwise train on, orphaned, after their parent is killed. SIGKILL, not SIGTERM:
    a study treats SIGTERM as "end this trial and return", and the worker would then wait for
    work from a parent that is gone. Its trial stays RUNNING until a later run's heartbeat sweep
    fails it."""
    hook = parent_death_signal(signal.SIGKILL)
    if hook is not None:
        hook()
