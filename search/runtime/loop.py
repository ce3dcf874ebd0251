"""One worker's loop: run trials while the study-wide budget still needs them.

:func:`work` is what ``run_study`` calls, in ``scalesearch run`` and in every
``scalesearch worker``. Per round it fails stale trials of dead workers (their configs are
re-enqueued), reads the budget (``search/runtime/budget.py``), and then stops, waits, or runs one trial
through :class:`TrialGuard`, which

- claims a budget slot before any work (or ends the trial as FAIL ``surplus``),
- keeps the trial's heartbeat going (``search/runtime/liveness.py``),
- turns trial faults into a stored reason instead of a stopped study (``search/runtime/faults.py``),
- lets Ctrl-C/SIGTERM end the trial as FAIL ``interrupted`` (``search/runtime/interrupts.py``).
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from scalesearch.errors import ModelBuildError
from scalesearch.search.config import attrs, system_attrs
from scalesearch.search.config.spec import StudySpec
from scalesearch.search.runtime.budget import AskLock, BudgetCovered, EpochTally, admit, snapshot
from scalesearch.search.runtime.device import peak_memory_mb, reset_peak_memory
from scalesearch.search.runtime.faults import (
    TrialFailed,
    error_text,
    fail_reason,
    is_out_of_memory,
    non_finite,
    release_memory,
    storage_errors,
)
from scalesearch.search.runtime.interrupts import Interrupted, Interrupts
from scalesearch.search.runtime.liveness import Retry, heartbeat_for

INTERRUPTED = "interrupted"


def worker_id() -> str:
    """``host:pid`` of this process (computed each time: a forked child has its own pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class WorkResult:
    finished: int  # the study's finished trials (COMPLETE + PRUNED) when this worker stopped
    failed: int  # trials of this worker that ended FAIL (not counting surplus)
    surplus: int  # trials of this worker that were not needed (see search/runtime/budget.py)
    stopped_by: str  # "budget" | "timeout" | "failures"


class TrialGuard:
    """Wraps the objective: budget slot, heartbeat, fault handling, interrupts. One per worker."""

    def __init__(self, objective: Callable[[Any], Sequence[float]], study: Any, spec: StudySpec, *,
                 heartbeat: Any, interrupts: Interrupts, deadline: float | None, device: str = "",
                 poll_seconds: float = 0.5, on_start: Callable[[], None] = lambda: None):
        self.objective, self.study, self.spec = objective, study, spec
        self.heartbeat, self.interrupts, self.deadline = heartbeat, interrupts, deadline
        self.device, self.poll_seconds, self.on_start = device, poll_seconds, on_start
        self.number: int | None = None  # the trial in flight (or last run)
        self.surplus = False

    def __call__(self, trial: Any) -> Sequence[float]:
        import optuna

        self.on_start()  # the trial exists: other workers on this host may look at the budget now
        self.number, self.surplus = trial.number, False
        trial.set_user_attr(attrs.WORKER, worker_id())
        error: Exception | None = None
        reset_peak_memory(self.device)
        with self.heartbeat.beating(trial), _peak_memory_recorded(trial, self.device):
            try:
                with self.interrupts.interruptible():
                    admit(self.study, trial, self.spec.budget.n_trials, deadline=self.deadline,
                          on_wait=lambda: self.heartbeat.sweep(self.study), poll_seconds=self.poll_seconds)
                    values = self.objective(trial)
            except BudgetCovered as e:
                self.surplus = True
                trial.set_user_attr(attrs.FAIL_REASON, str(e))
                raise
            except KeyboardInterrupt:
                trial.set_user_attr(attrs.FAIL_REASON, INTERRUPTED)
                raise
            except (optuna.TrialPruned, ModelBuildError):
                raise
            except Exception as e:
                error = e
        if error is not None:
            # Raised outside the except block, so nothing keeps the failed trial's tensors alive.
            reason = fail_reason(error, self.device)
            trial.set_user_attr(attrs.FAIL_REASON, reason)
            system_attrs.set_trial_data(trial, attrs.ERROR, error_text(error))
            if is_out_of_memory(error):
                release_memory(error)
            del error
            raise TrialFailed(reason)
        reason = non_finite(values, self.spec.objectives)
        if reason is not None:
            trial.set_user_attr(attrs.PRUNE_REASON, reason)
            raise optuna.TrialPruned(reason)
        return values


@contextlib.contextmanager
def _peak_memory_recorded(trial: Any, device: str) -> Iterator[None]:
    """``ss.gpu_peak_mb``: the trial's peak GPU memory, however it ends (packing several workers
    on one GPU is sized by it); nothing on the CPU."""
    try:
        yield
    finally:
        peak = peak_memory_mb(device)
        if peak is not None:
            with contextlib.suppress(Exception):  # the trial's own outcome matters more
                trial.set_user_attr(attrs.metric_key("gpu_peak_mb"), peak)


def work(study: Any, spec: StudySpec, objective: Callable[[Any], Sequence[float]], *,
         storage_url: str | None = None, callbacks: Sequence[Callable[[Any, Any], None]] = (),
         device: str = "", graceful: bool = False, notice: Callable[[str], None] = lambda _: None,
         poll_seconds: float = 1.0) -> WorkResult:
    """Run trials until the study holds ``spec.budget.n_trials`` finished ones, the timeout passes,
    or this worker's trials fail ``max(3, n_trials // 4)`` times in a row.

    Raises :class:`Interrupted` on SIGINT/SIGTERM (after its trial is stored as FAIL
    ``interrupted`` and its config re-enqueued), and :class:`~scalesearch.errors.StorageError`
    when the storage fails.
    """
    import optuna

    n_trials = spec.budget.n_trials
    retry = Retry(spec.workers.max_retries)
    heartbeat = heartbeat_for(storage_url, spec.workers.heartbeat_seconds, spec.workers.grace_seconds, retry)
    deadline = time.monotonic() + spec.budget.timeout if spec.budget.timeout else None
    max_failures = max(3, n_trials // 4)
    failed = surplus = consecutive = 0
    last: list[Any] = []
    jitter = random.Random()
    url = storage_url or ""
    epoch_tally = EpochTally()  # finished trials are summed once, not re-read before every trial
    with Interrupts(graceful, notice) as interrupts, storage_errors(url):
        lock = AskLock(url, study.study_name)
        guard = TrialGuard(objective, study, spec, heartbeat=heartbeat, interrupts=interrupts,
                           deadline=deadline, device=device, poll_seconds=poll_seconds / 2,
                           on_start=lock.release)
        try:
            while True:
                interrupts.check()
                heartbeat.sweep(study)
                lock.acquire()  # released once this worker's next trial exists, or when not asking
                try:
                    seen = snapshot(study)
                    action = seen.action(n_trials)
                    if action == "done":
                        return WorkResult(seen.finished, failed, surplus, "budget")
                    epochs = epoch_tally.count(study) if spec.budget.max_epochs is not None else None
                    if epochs is not None and epochs.spent >= spec.budget.max_epochs:
                        return WorkResult(seen.finished, failed, surplus, "budget")
                    if interrupts.stop_requested:
                        raise KeyboardInterrupt(interrupts.signal_name)
                    if deadline is not None and time.monotonic() >= deadline:
                        return WorkResult(seen.finished, failed, surplus, "timeout")
                    if consecutive >= max_failures:
                        return WorkResult(seen.finished, failed, surplus, "failures")
                    # Others' running trials cover the budget, or their epochs in flight claim the rest
                    # of budget.max_epochs (search/runtime/budget.py); one may still fail.
                    if action == "wait" or (epochs is not None and epochs.in_flight(spec.budget.max_epochs)):
                        lock.release()
                        interrupts.sleep(poll_seconds * (0.5 + jitter.random()))
                        continue
                    last.clear()
                    try:
                        study.optimize(guard, n_trials=1, catch=(TrialFailed, BudgetCovered, ModelBuildError),
                                       callbacks=[lambda s, t: last.append(t), *callbacks],
                                       gc_after_trial=False, show_progress_bar=False)
                    except (optuna.exceptions.UpdateFinishedTrialError, ValueError, AssertionError):
                        # Optuna 5 reports a failed tell as AssertionError/UnboundLocalError; look at the trial.
                        if not _ended_elsewhere(study, guard.number):
                            raise
                        notice(f"trial {guard.number} was ended by another worker: it sent no heartbeat for "
                               f"{spec.workers.grace_seconds}s (workers.grace_seconds); continuing")
                finally:
                    lock.release()
                state = last[0].state if last else None
                if guard.surplus:
                    surplus += 1
                elif state == optuna.trial.TrialState.FAIL:
                    failed, consecutive = failed + 1, consecutive + 1
                else:
                    consecutive = 0
        except KeyboardInterrupt:
            raise Interrupted(_after_interrupt(study, guard, retry, interrupts)) from None


def _ended_elsewhere(study: Any, number: int | None) -> bool:
    """Whether this worker's trial was finished by someone else (a stale-trial sweep)."""
    import optuna

    if number is None:
        return False
    return study.get_trials(deepcopy=False)[number].state != optuna.trial.TrialState.RUNNING


def _after_interrupt(study: Any, guard: TrialGuard, retry: Retry, interrupts: Interrupts) -> str:
    """Re-enqueue the interrupted trial's config; say what was left behind."""
    import optuna

    what = interrupts.signal_name or "interrupt"
    if guard.number is None:
        return f"{what}: stopped between trials"
    trial = study.get_trials(deepcopy=False)[guard.number]
    if trial.state != optuna.trial.TrialState.FAIL or trial.user_attrs.get(attrs.FAIL_REASON) != INTERRUPTED:
        return f"{what}: stopped after trial {trial.number} ({trial.state.name.lower()})"
    retry(study, trial)
    return (f"{what}: trial {trial.number} was stopped and stored as FAIL (interrupted); "
            "its config runs first when the study resumes")
