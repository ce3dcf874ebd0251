"""One device, many workers on a host: trainers share it, a latency measurement has it alone.

Several workers train on one host's CPU cores (or one GPU) at once. A latency measured while
the others train measures the contention, not the model. So, host-wide and per device, through
two advisory ``flock`` files in ``$TMPDIR`` or ``$SCALESEARCH_LOCK_DIR`` (the OS drops a lock
when its holder dies):

- a trainer holds the *use* lock shared while an epoch runs, and between epochs lets go of it
  and takes it again through the *gate* (:meth:`DeviceShare.training`, :func:`shared_trainer`);
- a measurement takes the gate (no trainer starts another epoch), then waits for the use lock
  alone (the epochs in flight end), measures, and lets both go (:meth:`DeviceShare.exclusive`).
  Measurements queue on the gate, so only one worker measures at a time.

A measurement waits at most ``wait_seconds`` (default 2 s) for the epochs in flight: other
workers stand still at their epoch boundaries meanwhile, so a long wait would cost every worker
on the host. After that it measures anyway and says so: the objective stores
``latency_contended = True`` (e.g. beside workers whose epochs take longer than that). Without
``fcntl`` (Windows) nothing is locked and every measurement counts as uncontended.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: How long a measurement waits for other workers' epochs on its device to end.
WAIT_SECONDS = 2.0
#: Where the lock files live (default ``$TMPDIR``): processes that share it coordinate.
LOCK_DIR_VAR = "SCALESEARCH_LOCK_DIR"


class _Flock:
    """One advisory lock file; shared or exclusive, blocking or polled."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def take(self, mode: str, timeout: float | None = None) -> bool:
        """``mode`` ``"shared"``/``"exclusive"``; True once held (False: unavailable, or no
        ``fcntl``, or the file cannot be opened: then nobody can be locked out)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return False
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            return False
        flag = fcntl.LOCK_SH if mode == "shared" else fcntl.LOCK_EX
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.005
        while True:
            try:
                fcntl.flock(fd, flag | (0 if deadline is None else fcntl.LOCK_NB))
                self._fd = fd
                return True
            except BlockingIOError:
                if deadline is None or time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(delay)
                delay = min(0.1, delay * 2)

    def drop(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)  # closing drops the flock


class DeviceShare:
    """The host-wide locks of one device (``cpu``, ``cuda:0``, ...)."""

    def __init__(self, device: str, directory: str | None = None):
        name = re.sub(r"[^a-z0-9]+", "-", device.lower())
        base = Path(directory or os.environ.get(LOCK_DIR_VAR) or tempfile.gettempdir())
        self.device = device
        self._gate = _Flock(base / f"scalesearch-device-{name}.gate")
        self._use = _Flock(base / f"scalesearch-device-{name}.use")

    @contextlib.contextmanager
    def training(self) -> Iterator[None]:
        """Hold the device shared for the block; call :meth:`between_epochs` between epochs."""
        self._enter()
        try:
            yield
        finally:
            self._use.drop()

    def between_epochs(self) -> None:
        """Let a waiting measurement run now, then take the device (shared) again."""
        self._use.drop()
        self._enter()

    def _enter(self) -> None:
        gate = self._gate.take("exclusive")  # waits while a measurement holds the gate
        try:
            self._use.take("shared")
        finally:
            if gate:
                self._gate.drop()

    @contextlib.contextmanager
    def exclusive(self, wait_seconds: float = WAIT_SECONDS) -> Iterator[bool]:
        """The device alone for the block; yields True when that could not be had within
        ``wait_seconds`` (the block then runs contended)."""
        if self._use._fd is not None:  # this process is training on it: it cannot be alone
            yield True
            return
        self._gate.take("exclusive")
        try:
            alone = self._use.take("exclusive", timeout=wait_seconds)
            try:
                yield not alone and self._use_lockable()
            finally:
                self._use.drop()
        finally:
            self._gate.drop()

    def _use_lockable(self) -> bool:
        """False where locking is impossible (no fcntl, no writable temp dir): nobody contends."""
        try:
            import fcntl  # noqa: F401
        except ImportError:  # pragma: no cover - not POSIX
            return False
        return os.access(self._use.path.parent, os.W_OK)


_SHARES: dict[str, DeviceShare] = {}


def device_share(device: str) -> DeviceShare:
    """This process's :class:`DeviceShare` for ``device`` (``cuda`` means the current GPU)."""
    if device == "cuda":
        import torch

        device = f"cuda:{torch.cuda.current_device()}"
    if device not in _SHARES:
        _SHARES[device] = DeviceShare(device)
    return _SHARES[device]


def shared_trainer(trainer: Any) -> Any:
    """``trainer`` holding its device shared while it trains (see module doc)."""

    def run(model: Any, data: Any, cfg: Any, device: str, on_epoch: Any = None) -> Any:
        share = device_share(device)

        def between(report: Any) -> None:
            share.between_epochs()
            if on_epoch is not None:
                on_epoch(report)

        with share.training():
            return trainer(model, data, cfg, device, between)

    run.inner = trainer  # type: ignore[attr-defined]
    return run
