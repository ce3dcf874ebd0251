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
"""

from __future__ import annotations

from typing import Any

from scalesearch.search.config import attrs
from scalesearch.search.training.train import Diverged, EpochReport, OnEpoch, Trainer, TrainResult


class CountingTrainer:
    """A :class:`Trainer` that counts the epochs ``trainer`` runs on ``trial`` (any call); stored
    after every epoch when ``every_epoch``, else at the end of each call."""

    def __init__(self, trainer: Trainer, trial: Any, *, every_epoch: bool = True):
        self.trainer, self.trial, self.epochs = trainer, trial, 0
        self.every_epoch, self._stored = every_epoch, 0

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

        try:
            return self.trainer(model, data, cfg, device, counted)
        except Diverged:
            self._count()
            raise
        finally:
            self._store()
