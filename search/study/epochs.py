"""Every training epoch a trial spends, counted as it happens, for the study-wide epoch budget.

A trial trains in up to three places: its own training, fine-tuning after pruning
(``search/compression/compress.py``), and the retrainings that measure ``accuracy_std``
(``search/training/robustness.py``). :class:`CountingTrainer` wraps the trainer the objective
hands to all three, and after each epoch stores the trial's running total as
``ss.epochs_trained``: a trial that is still running, or that fails or is stopped later, has
already counted what it spent. An epoch cut short by a diverging loss counts too (it was spent).
``search/runtime/budget.py``'s ``epochs_spent`` sums the attribute over every trial.
"""

from __future__ import annotations

from typing import Any

from scalesearch.search.config import attrs
from scalesearch.search.training.train import Diverged, EpochReport, OnEpoch, Trainer, TrainResult


class CountingTrainer:
    """A :class:`Trainer` that counts the epochs ``trainer`` runs on ``trial`` (any call)."""

    def __init__(self, trainer: Trainer, trial: Any):
        self.trainer, self.trial, self.epochs = trainer, trial, 0

    def _count(self) -> None:
        self.epochs += 1
        self.trial.set_user_attr(attrs.EPOCHS_TRAINED, self.epochs)

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
