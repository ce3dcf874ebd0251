"""Every training epoch a trial spends, counted as it happens, for the study-wide epoch budget.

A trial trains in up to three places: its own training, fine-tuning after pruning
(``search/compression/compress.py``), and the retrainings that measure ``accuracy_std``
(``search/training/robustness.py``). :class:`CountingTrainer` wraps the trainer the objective
hands to all three, and stores the trial's running total as ``ss.epochs_trained``. With a
study-wide epoch budget (``budget.max_epochs``) it does so after each epoch, so the other workers'
budget checks see what a running trial has spent; without one, nothing reads the count while the
trial runs, and it is stored once at the end of each training call (however that ends: stopped
early, diverged, failed), one storage transaction instead of one per epoch. An epoch cut short by
a diverging loss counts too (it was spent). ``search/runtime/budget.py``'s ``epochs_spent`` sums
the attribute over every trial.

With an epoch budget the trial also checks it before every epoch it starts (at the start of each
training call, and after each epoch that is not the call's last): when the study, every worker
and process together, has spent ``max_epochs``, it raises :class:`BudgetSpent` instead of
starting another (the objective ends the trial as PRUNED with ``ss.prune_reason`` "budget: ...").
What can still overshoot: only epochs that had already started when the budget ran out, at most
one per other trial running at that moment (each saw the budget unspent when it began its epoch).
"""

from __future__ import annotations

from typing import Any

from scalesearch.search.config import attrs
from scalesearch.search.runtime.budget import EpochTally
from scalesearch.search.training.train import Diverged, EpochReport, OnEpoch, Trainer, TrainResult


class BudgetSpent(Exception):
    """The study has spent its epoch budget: this trial starts no further epoch."""


class CountingTrainer:
    """A :class:`Trainer` that counts the epochs ``trainer`` runs on ``trial`` (any call); stored
    after every epoch when ``every_epoch`` (or a ``max_epochs`` budget is given), else at the end
    of each call. With ``max_epochs``, raises :class:`BudgetSpent` before an epoch once the
    study has spent that many."""

    def __init__(self, trainer: Trainer, trial: Any, *, every_epoch: bool = True, max_epochs: int | None = None):
        self.trainer, self.trial, self.epochs = trainer, trial, 0
        self.every_epoch, self._stored = every_epoch or max_epochs is not None, 0
        self.max_epochs, self._spent = max_epochs, EpochTally()

    def check_budget(self) -> None:
        """Raise :class:`BudgetSpent` when the study (its storage: every worker) has spent the budget."""
        if self.max_epochs is None:
            return
        spent = self._spent(self.trial.study)
        if spent >= self.max_epochs:
            raise BudgetSpent(f"budget: the study has spent its {self.max_epochs} epochs (budget.max_epochs; "
                              f"{spent} spent); stopped after {self.epochs} epoch(s) of this trial")

    def _count(self) -> None:
        self.epochs += 1
        if self.every_epoch:
            self._store()

    def _store(self) -> None:
        if self.epochs != self._stored:
            self.trial.set_user_attr(attrs.EPOCHS_TRAINED, self.epochs)
            self._stored = self.epochs

    def __call__(self, model: Any, data: Any, cfg: Any, device: str, on_epoch: OnEpoch | None = None) -> TrainResult:
        def counted(report: EpochReport) -> None:
            self._count()  # before on_epoch, which may stop the trial after this epoch
            if on_epoch is not None:
                on_epoch(report)
            if self.max_epochs is not None and report.epoch < cfg.epochs:  # another epoch would start
                self.check_budget()

        self.check_budget()
        try:
            return self.trainer(model, data, cfg, device, counted)
        except Diverged:
            self._count()
            raise
        finally:
            self._store()
