"""Ctrl-C (SIGINT) and SIGTERM for one worker: stop cleanly, never mid-write.

A signal interrupts at once only where that is safe: inside the trial's own work (building,
training, measuring) or while the worker waits. There the running trial ends as FAIL with reason
``interrupted``. Anywhere else (Optuna writing a trial to storage) the request waits until the
write is done; inside the trial, a signal that lands in a storage call (a user attr being
written) is delivered again 50 ms later, so a journal file's lock or a database session is never
left half-done. With ``graceful=True`` the first signal lets the running trial finish and then
stops; a second one interrupts at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Code that must not be cut short: storage calls (file locks, database sessions).
UNSAFE_PATHS = tuple(f"{os.sep}{p}{os.sep}" for p in ("optuna" + os.sep + "storages", "sqlalchemy", "psycopg2"))
REDELIVER_SECONDS = 0.05


def in_storage_call(frame: FrameType | None) -> bool:
    """Whether ``frame`` (or a caller of it) is inside a storage backend."""
    while frame is not None:
        if any(part in frame.f_code.co_filename for part in UNSAFE_PATHS):
            return True
        frame = frame.f_back
    return False


class Interrupted(KeyboardInterrupt):
    """The worker was asked to stop (SIGINT/SIGTERM). Its message says what was left behind."""


class Interrupts:
    """Context manager that owns SIGINT/SIGTERM while a worker runs (main thread only)."""

    def __init__(self, graceful: bool = False, notice: Callable[[str], None] = lambda _: None):
        self.graceful, self.notice = graceful, notice
        self.requests = 0
        self.signal_name = ""
        self._raise_now = False
        self._redelivering = False
        self._timer: threading.Timer | None = None
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
        if self._timer is not None:
            self._timer.cancel()
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._redelivering:  # our own re-delivery, not a new request
            self._redelivering = False
        else:
            self.requests += 1
            self.signal_name = signal.Signals(signum).name
            if not self._urgent:
                self.notice(f"{self.signal_name}: finishing the running trial, then stopping "
                            "(send it again to stop now)")
                return
        if not self._raise_now:
            return
        if in_storage_call(frame):
            self._redeliver(signum)
            return
        raise KeyboardInterrupt(self.signal_name)

    def _redeliver(self, signum: int) -> None:
        def fire() -> None:
            if self._previous:  # still ours to handle
                signal.pthread_kill(main, signum)

        main = threading.main_thread().ident
        self._redelivering = True
        self._timer = threading.Timer(REDELIVER_SECONDS, fire)
        self._timer.daemon = True
        self._timer.start()

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
