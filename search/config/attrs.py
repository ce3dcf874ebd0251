"""Names of the study and trial attributes scalesearch stores. Every one starts with ``ss.``.

Trial metrics are stored one user attr each (``ss.accuracy``, ``ss.params``, ...) so
optuna-dashboard shows them as columns; :func:`trial_metrics` reads them back.
"""

from __future__ import annotations

from typing import Any

PREFIX = "ss."
SPEC = "ss.spec"  # study: the resolved spec, plain data
VERSIONS = "ss.versions"  # study: package versions that created it
SPLIT = "ss.split"  # study: the dataset split every worker and the retrain use (datasets/split.py)
CONFIG = "ss.config"  # trial: the sampled configuration (family, model, training, seed)
FAIL_REASON = "ss.fail_reason"  # failed trial: why, one short line (search/runtime/faults.py)
ERROR = "ss.error"  # failed trial, system attr: the error's whole text
PRUNE_REASON = "ss.prune_reason"
INPUT_SIZE = "ss.input_size"  # trial: the side of the square input the model was built for
WORKER = "ss.worker"  # trial: "host:pid" of the worker that ran it
SLOT = "ss.slot"  # trial: "claim" or "yield" (search/runtime/budget.py)
HEARTBEAT = "ss.heartbeat"  # trial: last sign of life, epoch seconds (search/runtime/liveness.py)
RETRY_OF = "ss.retry_of"  # trial: number of the crashed/interrupted trial whose config it reruns
RETRIES = "ss.retries"  # trial: how many times this config has been retried
RUNG_PREFIX = "ss.rung."  # trial: validation accuracy at each early-stopping rung, e.g. ss.rung.9
RUNG_REACHED = "ss.rung_reached"  # pruned trial: epochs trained when it was stopped
EPOCHS_TRAINED = "ss.epochs_trained"  # trial: every epoch trained so far, fine-tuning and retrainings too
EPOCH_CLAIM = "ss.epoch_claim"  # trial: epochs trained + the one claimed to start (budget.max_epochs)
SAMPLER_SEED = "ss.sampler_seed"  # trial: seed of the sampler that proposed it (search/study/seeding.py)
SEED = "ss.seed"  # retried trial: the training seed of the trial it reruns (a retry keeps its seed)
PLANNED_PREFIX = "ss.planned."  # trial: a deployed cost known before training, e.g. ss.planned.params
WARM_START = "ss.warm_start"  # study: the studies it was warm-started from (search/study/warm_start.py)
WARM_TRIALS = "ss.warm_start.trials"  # study, system: their trials mapped into this space, for the sampler
WARM_FROM = "ss.warm_start.from"  # trial: "<study> trial <n>", the earlier configuration it re-evaluates

#: Non-scalar or descriptive trial attrs that are not metrics.
NOT_METRICS = {CONFIG, FAIL_REASON, PRUNE_REASON, INPUT_SIZE, RUNG_REACHED, "ss.val_curve", "ss.device",
               WORKER, SLOT, EPOCH_CLAIM, HEARTBEAT, RETRY_OF, RETRIES, SAMPLER_SEED, SEED, WARM_FROM}


def metric_key(name: str) -> str:
    return PREFIX + name


def rung_key(epochs: int) -> str:
    return f"{RUNG_PREFIX}{epochs}"


def planned_key(name: str) -> str:
    """The attr of cost ``name`` as planned before training (search/compression/estimate.py)."""
    return f"{PLANNED_PREFIX}{name}"


def trial_metrics(user_attrs: dict[str, Any]) -> dict[str, Any]:
    """``{"accuracy": 0.97, "params": 21074, ...}`` from a trial's user attrs."""
    return {
        key[len(PREFIX):]: value
        for key, value in user_attrs.items()
        if key.startswith(PREFIX) and key not in NOT_METRICS and not key.startswith((RUNG_PREFIX, PLANNED_PREFIX))
        and isinstance(value, int | float)
    }
