"""Faults: what a trial's failure means, and what a storage failure tells the user.

A fault in one trial never stops a study: NaN/inf objective values end the trial as PRUNED,
CUDA out-of-memory and any other exception as FAIL, each with a one-line reason stored on the
trial (``ss.prune_reason`` / ``ss.fail_reason``), short and breakable (:func:`readable`: a
300-character reason with an error's unbroken 700-character token made a failed trial's dashboard
page 5,639 px wide, and optuna-dashboard lists user attrs unwrapped); the whole error is kept in
the trial's system attr ``ss.error``, which the dashboard does not draw. A storage failure is different: nothing can
be recorded, so the worker stops with a :class:`~scalesearch.errors.StorageError` that says
what happened and what to do, instead of Optuna's masking ``UnboundLocalError``/``AssertionError``.
"""

from __future__ import annotations

import contextlib
import gc
import math
import sqlite3
from collections.abc import Iterator, Sequence

from scalesearch.errors import StorageError

REASON_CHARS = 110  # the longest reason stored: it fits a trial page's user attrs at 1600 px
LONGEST_RUN = 40  # the longest run of characters without a space in a reason


def readable(text: str, limit: int = REASON_CHARS, run: int = LONGEST_RUN) -> str:
    """``text`` as one line that wraps in a browser: a run of more than ``run`` characters without
    a space keeps its ends (``shape_xxxx…xxxx_end``), and the line at most ``limit`` characters."""
    keep = (run - 1) // 2
    words = [w if len(w) <= run else f"{w[:keep]}…{w[-keep:]}" for w in text.split()]
    line = " ".join(words)
    return line if len(line) <= limit else line[:limit - 1] + "…"


class TrialFailed(Exception):
    """The trial ended as FAIL; its reason is already stored on the trial."""


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA (or other accelerator) out-of-memory, including allocator failures in cuBLAS/cuDNN."""
    if type(error).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError / torch.cuda.OutOfMemoryError
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and ("out of memory" in text or "ALLOC_FAILED" in text)


def release_memory(error: BaseException) -> None:
    """Drop what a failed trial still holds (its traceback's frames) and empty the CUDA cache."""
    import traceback

    with contextlib.suppress(RuntimeError):
        traceback.clear_frames(error.__traceback__)
    gc.collect()
    with contextlib.suppress(Exception):
        import torch

        if torch.cuda.is_initialized():
            torch.cuda.empty_cache()


def fail_reason(error: BaseException, device: str) -> str:
    """One short line for ``ss.fail_reason``: what failed and, for out-of-memory, what to try.

    At most :data:`REASON_CHARS` and :func:`readable`: optuna-dashboard lists user attrs unwrapped,
    so a longer reason widens a failed trial's page. The trial's config is in its note and
    ``ss.config``; the error's text in full in ``ss.error`` (:func:`error_text`).
    """
    first = (str(error).strip().splitlines() or [""])[0]
    head = (f"out of memory on {device} (lower batch_size or narrow the space)" if is_out_of_memory(error)
            else type(error).__name__)
    return readable(f"{head}: {first}" if first else head)


def error_text(error: BaseException, limit: int = 2000) -> str:
    """The error as ``Type: message`` (every line, at most ``limit`` characters) for ``ss.error``."""
    return f"{type(error).__name__}: {error}"[:limit]


def non_finite(values: Sequence[float], names: Sequence[str]) -> str | None:
    """A prune reason when any objective value is NaN or infinite, else None."""
    bad = [f"{n}={v}" for n, v in zip(names, values, strict=False) if not math.isfinite(float(v))]
    return f"non-finite objective value ({', '.join(bad)})" if bad else None


# --------------------------------------------------------------------------- storage


def _storage_cause(error: BaseException) -> BaseException | None:
    """The storage exception behind ``error`` (following the ``__context__`` chain), if any."""
    import optuna

    kinds: tuple[type[BaseException], ...] = (optuna.exceptions.StorageInternalError, sqlite3.Error)
    with contextlib.suppress(ImportError):
        import sqlalchemy.exc

        kinds += (sqlalchemy.exc.SQLAlchemyError,)
    seen: set[int] = set()
    node: BaseException | None = error
    found = None
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, kinds):
            found = node  # keep walking: the innermost one names the real cause
        node = node.__cause__ or node.__context__
    return found


def storage_message(cause: BaseException, url: str) -> str:
    from scalesearch.search.storage.storage import redact, scrub

    text = scrub(str(getattr(cause, "orig", None) or cause).strip().splitlines()[0], url)
    if "locked" in text:
        hint = ("another process held the SQLite write lock longer than the busy timeout; "
                "for many workers use journal:///path.log (one host) or postgresql:// (many hosts)")
    elif any(s in text for s in ("could not connect", "Connection refused", "server closed", "timeout expired")):
        hint = "the database server cannot be reached; check it is up and reachable, then rerun (the study resumes)"
    else:
        hint = "rerun the same command to resume once the storage is healthy"
    return f"storage error on {redact(url)}: {text}; {hint}"


@contextlib.contextmanager
def storage_errors(url: str) -> Iterator[None]:
    """Turn storage failures raised inside the block into one-line :class:`StorageError`."""
    try:
        yield
    except StorageError:
        raise
    except Exception as e:
        cause = _storage_cause(e)
        if cause is None:
            raise
        raise StorageError(storage_message(cause, url)) from None
