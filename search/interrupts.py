"""Ctrl-C (SIGINT) and SIGTERM for one worker: stop cleanly, never mid-write.

A signal interrupts at once only where that is safe: inside the trial's own work (building,
training, measuring) or while the worker waits. There the running trial ends as FAIL with reason
``interrupted``. Anywhere else (Optuna writing a trial to storage) the request waits until the
write is done. With ``graceful=True`` the first signal lets the running trial finish and then
stops; a second one interrupts at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The worker was asked to stop (SIGINT/SIGTERM). Its message says what was left behind."""


class Interrupts:
    """Context manager that owns SIGINT/SIGTERM while a worker runs (main thread only)."""

    def __init__(self, graceful: bool = False, notice: Callable[[str], None] = lambda _: None):
        self.graceful, self.notice = graceful, notice
        self.requests = 0
        self.signal_name = ""
        self._raise_now = False
        self._previous: dict[int, Any] = {}

    @property
    def stop_requested(self) -> bool:
        return self.requests > 0

    @property
    def _urgent(self) -> bool:
        return self.requests >= (2 if self.graceful else 1)

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requests += 1
        self.signal_name = signal.Signals(signum).name
        if not self._urgent:
            self.notice(f"{self.signal_name}: finishing the running trial, then stopping "
                        "(send it again to stop now)")
            return
        if self._raise_now:
            raise KeyboardInterrupt(self.signal_name)

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if an urgent stop is pending (call at safe points)."""
        if self._urgent:
            raise KeyboardInterrupt(self.signal_name)

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """Inside this block a signal raises ``KeyboardInterrupt`` at once."""
        self.check()
        self._raise_now = True
        try:
            yield
        finally:
            self._raise_now = False

    def sleep(self, seconds: float) -> None:
        with self.interruptible():
            time.sleep(seconds)
