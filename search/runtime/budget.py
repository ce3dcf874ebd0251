"""A study-wide budget that any number of workers share: exactly ``n_trials`` finished trials.

"Finished" means COMPLETE or PRUNED. Workers on one host or many coordinate only through the
study's storage, with public Optuna APIs (trial user attrs, ``study.get_trials``):

1. **Ask only when a slot may be free.** Before asking for a trial, a worker reads the study:
   ``finished >= n_trials`` -> the budget is met, stop; ``finished + running >= n_trials`` ->
   wait (a running trial may still fail and free its slot); otherwise ask.
2. **Claim, then look.** A new trial sets ``ss.slot = "claim"`` and *then* reads the study. It
   keeps its claim iff ``finished + (other running trials holding a claim) < n_trials``.
   Otherwise it sets ``ss.slot = "yield"``, waits a random moment and tries again.
3. **Why that is exact.** Every trial writes its claim before it reads. Of any set of trials
   that keep claims, the one that read last saw all the others' claims (or saw them finished),
   so finished + claims never exceeds ``n_trials``. A trial that fails (error, crash found by
   the heartbeat check, interrupt) frees its slot, and a live worker fills it.
4. **Surplus.** When workers ask at the same instant for the last slot, the losers wait while
   the winner runs; if it finishes, they end as FAIL with reason ``surplus`` without training
   (they never count). Workers on one host take rule 1 and the ask under one lock file
   (:class:`AskLock`), so there it cannot happen; across hosts it needs two asks within one
   storage round-trip.

The epoch budget (``budget.max_epochs``) is kept the same way, one epoch at a time
(:func:`claim_epoch`): before it starts an epoch a trial sets ``ss.epoch_claim`` to its count
with that epoch, *then* reads the study, and keeps the claim iff the epochs spent plus those
claimed by running trials are at most ``max_epochs``; else it takes the claim back. So the study
never trains more than ``max_epochs``. A refused trial stops (the budget is spent, or its rest is
claimed by epochs in flight); two trials that claimed at the same instant and both took theirs
back retry after a random moment, and a worker asks for no new trial while epochs in flight
claim the rest (``EpochCount.in_flight``), so the study trains exactly ``max_epochs``: a claimed
epoch that never ran (its trial failed first) is given back when its training call ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalesearch.search.config import attrs

CLAIM, YIELD = "claim", "yield"
FINISHED = ("COMPLETE", "PRUNED")


class BudgetCovered(Exception):
    """This trial is not needed: other trials already cover the study's budget."""


@dataclass(frozen=True)
class Snapshot:
    """What one read of the study says about its budget."""

    finished: int  # COMPLETE + PRUNED
    running: int  # RUNNING trials, claimed or not (excluding the reader's own)
    claims: int  # RUNNING trials holding a claim (excluding the reader's own)

    def action(self, n_trials: int) -> str:
        """Rule 1: ``"done"``, ``"wait"`` or ``"ask"``."""
        if self.finished >= n_trials:
            return "done"
        return "wait" if self.finished + self.running >= n_trials else "ask"


def snapshot(study: Any, own_number: int | None = None) -> Snapshot:
    import optuna

    state = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False, states=(state.COMPLETE, state.PRUNED, state.RUNNING))
    finished = sum(t.state.name in FINISHED for t in trials)
    others = [t for t in trials if t.state == state.RUNNING and t.number != own_number]
    claims = sum(t.user_attrs.get(attrs.SLOT) == CLAIM for t in others)
    return Snapshot(finished, len(others), claims)


def admit(study: Any, trial: Any, n_trials: int, *, wait: Callable[[float], None] = time.sleep,
          on_wait: Callable[[], None] = lambda: None, deadline: float | None = None,
          poll_seconds: float = 0.5) -> None:
    """Rule 2 for ``trial``: return once it holds a slot, or raise :class:`BudgetCovered`.

    While it waits, ``on_wait`` runs each round (e.g. the stale-trial check, which may free a
    slot held by a dead worker). ``deadline`` is a ``time.monotonic()`` value.
    """
    jitter = random.Random()
    while True:
        trial.set_user_attr(attrs.SLOT, CLAIM)
        seen = snapshot(study, trial.number)
        if seen.finished + seen.claims < n_trials:
            return
        trial.set_user_attr(attrs.SLOT, YIELD)
        if seen.finished >= n_trials:
            raise BudgetCovered("surplus: the budget was met by other workers' trials while this one "
                                "waited for a slot; not trained")
        if deadline is not None and time.monotonic() >= deadline:
            raise BudgetCovered("surplus: the timeout passed while this trial waited for a slot; not trained")
        wait(poll_seconds * (0.5 + jitter.random()))
        on_wait()


class AskLock:
    """Serialises "read the budget, then ask for a trial" among the workers of one host.

    An advisory ``flock`` on ``$TMPDIR/scalesearch-ask-<hash of storage and study>.lock``; the OS
    drops it when its holder dies. Take it with :meth:`acquire` before reading the study and
    :meth:`release` once the new trial exists (or when not asking). Without ``fcntl`` (Windows)
    it does nothing and rule 2 alone keeps the budget exact.
    """

    def __init__(self, storage_url: str, study_name: str):
        key = hashlib.sha256(f"{storage_url}\0{study_name}".encode()).hexdigest()[:16]
        self.path = Path(tempfile.gettempdir()) / f"scalesearch-ask-{key}.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:  # e.g. another user's lock file: fall back to rule 2 alone
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)  # closing drops the flock


def epochs_spent(study: Any) -> int:
    """Training epochs spent by every trial so far, in any state (running, failed and stopped
    trials too), fine-tuning and ``accuracy_std`` retrainings included: the sum of
    ``ss.epochs_trained`` (``search/study/epochs.py``; ``ss.epochs_run`` for trials stored
    before it existed; an ended trial's ``ss.epoch_claim`` where higher: its worker died during
    that epoch). With ``budget.max_epochs`` a worker reads it before asking for a trial, and each
    running trial before each epoch it starts (:func:`claim_epoch`)."""
    return EpochTally()(study)


#: How often a trial refused an epoch while other trials' claims covered the rest tries again
#: (those claims may be taken back at once, by trials that claimed at the same instant).
CLAIM_TRIES = 5


@dataclass(frozen=True)
class EpochCount:
    """What one read of the study says about its epoch budget."""

    spent: int  # epochs trained (see epochs_spent)
    claimed: int  # spent + the epochs running trials have claimed and not finished

    def in_flight(self, max_epochs: int) -> bool:
        """Whether epochs running now claim what is left of ``max_epochs`` (ask for no new trial)."""
        return self.spent < max_epochs <= self.claimed


def claim_epoch(study: Any, trial: Any, epoch: int, max_epochs: int, tally: EpochTally, *,
                tries: int = CLAIM_TRIES, poll_seconds: float = 0.05,
                wait: Callable[[float], None] = time.sleep) -> EpochCount | None:
    """Claim, then look, for the epoch that would be ``trial``'s ``epoch``-th: None once it
    holds the claim, else the :class:`EpochCount` that refused it (the claim is taken back)."""
    jitter = random.Random()
    for attempt in itertools.count(1):
        trial.set_user_attr(attrs.EPOCH_CLAIM, epoch)
        seen = tally.count(study)
        if seen.claimed <= max_epochs:
            return None
        trial.set_user_attr(attrs.EPOCH_CLAIM, epoch - 1)
        if seen.spent >= max_epochs or attempt >= tries:
            return seen
        wait(poll_seconds * (0.5 + jitter.random()))
    raise AssertionError("unreachable")  # pragma: no cover


class NewlyFinished:
    """The study's ended trials (complete, pruned, failed), each handed out once: an ended trial
    never changes, so readers that are asked again and again as a study grows (budget checks,
    rung decisions) add it once instead of re-reading every trial."""

    def __init__(self) -> None:
        self._seen: set[int] = set()

    def __call__(self, study: Any) -> list[Any]:
        import optuna

        state = optuna.trial.TrialState
        ended = study.get_trials(deepcopy=False, states=(state.COMPLETE, state.PRUNED, state.FAIL))
        if len(ended) == len(self._seen):  # none ended since the last call
            return []
        new = [t for t in ended if t.number not in self._seen]
        self._seen.update(t.number for t in new)
        return new


class EpochTally:
    """:func:`epochs_spent`, asked again and again as a study grows (a worker's budget check
    before each trial, a trial's before each epoch): an ended trial's count is added once; each
    call reads the live counts of the running trials. Waiting trials never trained.

    One read of the study gives both, so a trial that ends while it is read is counted once,
    as running or as ended (two reads, ended trials then running ones, missed a trial that ended
    between them, and on PostgreSQL under load let two epochs start past the budget)."""

    def __init__(self) -> None:
        self._seen: set[int] = set()
        self._finished_epochs = 0

    def __call__(self, study: Any) -> int:
        return self.count(study).spent

    def count(self, study: Any) -> EpochCount:
        """Epochs spent, and spent or claimed (:func:`claim_epoch`)."""
        import optuna

        state = optuna.trial.TrialState
        trials = study.get_trials(deepcopy=False, states=(state.RUNNING, state.COMPLETE, state.PRUNED, state.FAIL))
        running = [t for t in trials if t.state == state.RUNNING]
        for t in trials:
            if t.state != state.RUNNING and t.number not in self._seen:
                self._seen.add(t.number)
                self._finished_epochs += claimed_epochs(t.user_attrs)
        trained = sum(trial_epochs(t.user_attrs) for t in running)
        claimed = sum(claimed_epochs(t.user_attrs) for t in running)
        return EpochCount(self._finished_epochs + trained, self._finished_epochs + claimed)


def trial_epochs(user_attrs: dict[str, Any]) -> int:
    """Epochs one trial has trained so far."""
    value = user_attrs.get(attrs.EPOCHS_TRAINED, user_attrs.get(attrs.metric_key("epochs_run"), 0))
    return int(value)


def claimed_epochs(user_attrs: dict[str, Any]) -> int:
    """Epochs one trial has trained, or claimed to start (:func:`claim_epoch`)."""
    return max(trial_epochs(user_attrs), int(user_attrs.get(attrs.EPOCH_CLAIM, 0)))


def stop_reason(study: Any, n_trials: int, max_epochs: int | None, failed: bool) -> str:
    """Why a run of several workers ended, read from the study: ``"budget"`` (``n_trials``
    finished trials, or ``max_epochs`` training epochs spent), ``"failures"`` (a worker gave up
    after repeated failures) or ``"timeout"``."""
    import optuna

    states = tuple(getattr(optuna.trial.TrialState, s) for s in FINISHED)
    if len(study.get_trials(deepcopy=False, states=states)) >= n_trials:
        return "budget"
    if max_epochs is not None and epochs_spent(study) >= max_epochs:
        return "budget"
    return "failures" if failed else "timeout"
