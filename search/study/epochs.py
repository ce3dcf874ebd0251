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

With an epoch budget the trial also claims every epoch before it starts it (at the start of each
training call, and after each epoch that is not the call's last), through the study-wide claim
protocol (``search/runtime/budget.py``'s :func:`claim_epoch`: write the claim, then read the
study). When the study, every worker and process together, has spent or claimed ``max_epochs``,
the claim is refused and it raises :class:`BudgetSpent` instead of starting another (the
objective ends the trial as PRUNED with ``ss.prune_reason`` "budget: ..."). So no epoch starts
past the budget, in any number of workers: the study trains exactly ``max_epochs``. A claim is
one more storage write per epoch, made only where there is an epoch budget; a claimed epoch that
did not run (the trainer raised first) is given back when the call ends.
"""

from __future__ import annotations

from typing import Any

from scalesearch.search.config import attrs
from scalesearch.search.runtime.budget import EpochTally, claim_epoch
from scalesearch.search.training.train import Diverged, EpochReport, OnEpoch, Trainer, TrainResult


class BudgetSpent(Exception):
    """The study has spent its epoch budget: this trial starts no further epoch."""


class CountingTrainer:
    """A :class:`Trainer` that counts the epochs ``trainer`` runs on ``trial`` (any call); stored
    after every epoch when ``every_epoch`` (or a ``max_epochs`` budget is given), else at the end
    of each call. With ``max_epochs``, claims each epoch before it starts and raises
    :class:`BudgetSpent` when the study has spent or claimed that many."""

    def __init__(self, trainer: Trainer, trial: Any, *, every_epoch: bool = True, max_epochs: int | None = None):
        self.trainer, self.trial, self.epochs = trainer, trial, 0
        self.every_epoch, self._stored = every_epoch or max_epochs is not None, 0
        self.max_epochs, self._tally, self._claimed = max_epochs, EpochTally(), 0

    def check_budget(self) -> None:
        """Claim the next epoch in the study's budget (its storage: every worker), or raise
        :class:`BudgetSpent`."""
        if self.max_epochs is None:
            return
        refused = claim_epoch(self.trial.study, self.trial, self.epochs + 1, self.max_epochs, self._tally)
        if refused is None:
            self._claimed = self.epochs + 1
            return
        why = (f"has spent its {self.max_epochs} epochs" if refused.spent >= self.max_epochs else
               f"has spent {refused.spent} of its {self.max_epochs} epochs, the rest claimed by epochs "
               "running in other trials")
        raise BudgetSpent(f"budget: the study {why} (budget.max_epochs); stopped after {self.epochs} "
                          "epoch(s) of this trial")

    def _count(self) -> None:
        self.epochs += 1
        if self.every_epoch:
            self._store()

    def _store(self) -> None:
        if self.epochs != self._stored:
            self.trial.set_user_attr(attrs.EPOCHS_TRAINED, self.epochs)
            self._stored = self.epochs

    def _give_back(self) -> None:
        """A claimed epoch that did not run (the trainer raised before it) goes back to the budget."""
        if self._claimed > self.epochs:
            self.trial.set_user_attr(attrs.EPOCH_CLAIM, self.epochs)
            self._claimed = self.epochs

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
            self._give_back()
