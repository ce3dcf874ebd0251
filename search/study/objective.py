"""The Optuna objective: sample a config, build, train, measure, store everything on the trial.

Flow (one way): space -> sampled config -> model -> train -> compress and measure on the
deploy device (``search/compression/deploy.py``) -> trial values/attrs.
The trainer is injected, so tests drive the search logic with a fake one in milliseconds.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, Protocol

from scalesearch.errors import ModelBuildError
from scalesearch.search.compression.deploy import check_deploy, deploy_trial
from scalesearch.search.compression.estimate import costs_before_training
from scalesearch.search.config import attrs, system_attrs
from scalesearch.search.config.spec import StudySpec
from scalesearch.search.datasets import Dataset
from scalesearch.search.runtime.faults import error_text, fail_reason, readable
from scalesearch.search.study.constraints import store_constraints
from scalesearch.search.study.epochs import BudgetSpent, CountingTrainer
from scalesearch.search.study.samplers import SEED_ATTR
from scalesearch.search.training.models import build_model
from scalesearch.search.training.robustness import extra_metrics
from scalesearch.search.training.train import Diverged, EpochReport, TrainConfig, Trainer, train
from scalesearch.spaces.space import suggest


class Events(Protocol):
    """What the objective tells a progress view. Every method is optional to act on."""

    def trial_started(self, number: int, config: dict[str, Any]) -> None: ...
    def epoch(self, number: int, report: EpochReport, total_epochs: int) -> None: ...


class _NoEvents:
    def trial_started(self, number: int, config: dict[str, Any]) -> None:
        pass

    def epoch(self, number: int, report: EpochReport, total_epochs: int) -> None:
        pass


def train_config(spec: StudySpec, training: dict[str, Any], seed: int) -> TrainConfig:
    """The trainer's config: searched knobs + the spec's fixed trainer settings + seed."""
    return TrainConfig(**training, **dataclasses.asdict(spec.training), seed=seed)


class Objective:
    """Callable passed to ``study.optimize``; returns the spec's objectives in order."""

    def __init__(self, spec: StudySpec, data: Dataset, device: str, *,
                 trainer: Trainer = train, events: Events | None = None,
                 on_epoch: Callable[[Any, EpochReport], None] | None = None,
                 before_training: Callable[[Any], None] | None = None):
        self.spec, self.data, self.device = spec, data, device
        check_deploy(spec, device)
        self.trainer = trainer
        self.events = events or _NoEvents()
        self.on_epoch = on_epoch  # e.g. early stopping; may raise optuna.TrialPruned
        self._first_trial = True
        self._epochs_run = 0  # epochs of the trial in flight's own training so far
        self.before_training = before_training  # sees the stored costs; may raise TrialPruned

    def __call__(self, trial: Any) -> list[float]:
        import optuna

        self._epochs_run = 0
        try:
            values = self._run(trial)
        except optuna.TrialPruned:
            store_constraints(trial, self.spec.conditions)
            raise
        except BudgetSpent as e:  # the study's epoch budget ran out before this trial's next epoch
            trial.set_user_attr(attrs.PRUNE_REASON, str(e))
            self._store(trial, {"epochs_run": self._epochs_run})
            store_constraints(trial, self.spec.conditions)
            raise optuna.TrialPruned(str(e)) from None
        store_constraints(trial, self.spec.conditions)
        return values

    def _run(self, trial: Any) -> list[float]:
        import optuna

        first, self._first_trial = self._first_trial, False
        charged = self.data.load_seconds if first else 0.0  # the first trial pays for loading
        started, data_mark = time.perf_counter() - charged, self.data.data_seconds - charged
        # A retried trial keeps the seed of the trial it reruns (search/runtime/liveness.py).
        config = suggest(trial, self.spec.space) | {"seed": trial.user_attrs.get(attrs.SEED, self.spec.seed + trial.number)}
        system_attrs.set_trial_data(trial, attrs.CONFIG, config)  # machine data, not drawn by the dashboard
        sampler_seed = getattr(trial.study.sampler, SEED_ATTR, None)
        if sampler_seed is not None:
            trial.set_user_attr(attrs.SAMPLER_SEED, sampler_seed)
        trial.set_user_attr("ss.device", self.device)
        trial.set_user_attr(attrs.INPUT_SIZE, self.data.input_size)
        self.events.trial_started(trial.number, config)
        try:
            model = build_model(config, self.data)
        except ModelBuildError as e:  # short for the dashboard; whole in ss.error (search/runtime/faults.py)
            trial.set_user_attr(attrs.FAIL_REASON, readable(f"{config['family']} could not be built: "
                                                            f"{fail_reason(e.__cause__ or e, self.device)}"))
            system_attrs.set_trial_data(trial, attrs.ERROR, error_text(e))
            raise
        # Deployed costs (compressed as configured) before training: what constraints and early
        # stopping judge every trial on; the measured ones replace the metrics at the end.
        planned = costs_before_training(model, self.data, config.get("compression"))
        self._store(trial, planned)
        for name, value in planned.items():
            system_attrs.set_shown(trial, attrs.planned_key(name), value)
        if self.before_training is not None:
            self.before_training(trial)
        cfg = train_config(self.spec, config["training"], config["seed"])
        # Every epoch counts (search/study/epochs.py); stored live, and the budget checked before
        # each epoch, only where there is an epoch budget.
        trainer = CountingTrainer(self.trainer, trial, every_epoch=False, max_epochs=self.spec.budget.max_epochs)

        def on_epoch(report: EpochReport) -> None:
            self._epochs_run = report.epoch
            self.events.epoch(trial.number, report, cfg.epochs)
            if self.on_epoch is not None:
                self.on_epoch(trial, report)

        try:
            result = trainer(model, self.data, cfg, self.device, on_epoch)
        except Diverged as e:
            trial.set_user_attr(attrs.PRUNE_REASON, f"diverged: {e}")
            self._store(trial, {"epochs_run": e.epoch})  # the diverging epoch was (partly) spent
            raise optuna.TrialPruned(f"diverged: {e}") from None
        # Robustness and stability describe the trained float model (compression changes it in place).
        metrics = extra_metrics(self.spec, model, self.data, self.device, cfg, result.val_accuracy,
                                trainer=trainer,
                                rebuild=lambda seed: build_model(config | {"seed": seed}, self.data))
        try:
            # Compression (if configured) and measurement on the deploy device.
            metrics |= deploy_trial(model, config, result, self.data, self.spec, self.device, cfg, trainer,
                                    planned=planned, reference=self._latency_reference(trial))
        except Diverged as e:
            trial.set_user_attr(attrs.PRUNE_REASON, f"diverged while fine-tuning: {e}")
            raise optuna.TrialPruned(f"diverged while fine-tuning: {e}") from None
        metrics |= {"train_seconds": result.train_seconds, "epochs_run": result.epochs_run,
                    "data_seconds": self.data.data_seconds - data_mark,
                    "trial_seconds": time.perf_counter() - started}
        self._store(trial, metrics)
        system_attrs.set_trial_data(trial, system_attrs.VAL_CURVE, [round(a, 5) for a in result.curve])
        stored = system_attrs.exact_metrics(trial)
        return [float(stored[name]) for name in self.spec.objectives]

    def _latency_reference(self, trial: Any) -> list[tuple[float, float]]:
        """The study's complete trials' ``(flops, latency_ms)`` on this deploy device, which a new
        latency is checked against (``search/compression/measure.py``); read only where the
        study's front or constraints use latency."""
        import optuna

        used = {*self.spec.objectives, *(c.metric for c in self.spec.conditions)}
        if not used & {"latency_ms", "latency_ms_batch"}:
            return []

        from scalesearch.search.compression.deploy import resolve_deploy_device
        from scalesearch.search.compression.measure import latency_reference

        done = trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        device = resolve_deploy_device(self.spec.deploy.device, self.device)
        return latency_reference((system_attrs.exact_metrics(t) for t in done), device)

    @staticmethod
    def _store(trial: Any, metrics: dict[str, Any]) -> None:
        system_attrs.store_metrics(trial, metrics)  # rounded for people, exact in ss.metrics


def constraints_func(spec: StudySpec) -> Callable[[Any], list[float]] | None:
    """Optuna ``constraints_func`` for the spec's constraints (None when there are none).

    A trial without the metric (e.g. pruned before measuring it) counts as infeasible.
    """
    conditions = spec.conditions
    if not conditions:
        return None

    def evaluate(frozen: Any) -> list[float]:
        metrics = system_attrs.exact_metrics(frozen)  # not the rounded user attrs
        return [c.violation(metrics) if c.metric in metrics else 1.0 for c in conditions]

    return evaluate
