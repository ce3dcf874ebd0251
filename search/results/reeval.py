"""Train chosen trials again with more seeds, storing every result on the study for reuse.

Training ``i`` of a trial seeded ``s`` uses seed ``s + i * 1000`` (``SEED_STRIDE``); training 0
is the trial itself, so its stored accuracy counts and is never trained again. Results live in
the study attribute ``ss.stability.<trial>`` (finished trials take no new attributes):
``{"seeds": [...], "accuracies": [...], "accuracy_mean", "accuracy_std"}``, accuracies of the
trained (float) model on the validation split. ``scalesearch stability``, ``export`` and a
study's ``measure.final_reeval`` all read and extend the same records.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from scalesearch.search.config import system_attrs
from scalesearch.search.config.spec import StudySpec
from scalesearch.search.training.train import Trainer, train

PREFIX = "ss.stability."


def stored_stability(study: Any) -> dict[int, dict[str, Any]]:
    """Every seed re-evaluation stored on ``study``, by trial number."""
    return {int(key[len(PREFIX):]): value for key, value in study.user_attrs.items() if key.startswith(PREFIX)}


def float_accuracy(trial: Any) -> float:
    """The trial's trained-model validation accuracy (before compression, if it was compressed)."""
    metrics = system_attrs.exact_metrics(trial)
    return float(metrics.get("accuracy_uncompressed", metrics["accuracy"]))


def compression_offset(trial: Any) -> float:
    """Deployed minus trained accuracy of the trial's own model (0 without compression)."""
    return float(system_attrs.exact_metrics(trial)["accuracy"]) - float_accuracy(trial)


def seed_accuracies(trial: Any, stored: dict[int, dict[str, Any]] | None = None) -> dict[int, float]:
    """``{seed: validation accuracy}`` known for ``trial``: its own training plus stored ones."""
    known = {int(system_attrs.trial_config(trial)["seed"]): float_accuracy(trial)}
    record = (stored or {}).get(trial.number)
    if record:
        known |= {int(s): float(a) for s, a in zip(record["seeds"], record["accuracies"], strict=True)}
    return known


def record(known: dict[int, float]) -> dict[str, Any]:
    """The stored form of ``{seed: accuracy}`` (std needs two trainings; null before)."""
    seeds = sorted(known)
    accuracies = [known[s] for s in seeds]
    return {"seeds": seeds, "accuracies": accuracies, "accuracy_mean": statistics.fmean(accuracies),
            "accuracy_std": statistics.stdev(accuracies) if len(accuracies) > 1 else None}


def reevaluate(study: Any, spec: StudySpec, trials: Sequence[Any], runs: int, *, data: Any = None,
               device: str | None = None, trainer: Trainer = train, fresh: bool = False,
               on_training: Callable[[int, int], None] | None = None) -> dict[int, dict[str, Any]]:
    """Make sure each of ``trials`` has ``runs`` trainings (its own + ``runs - 1`` seeds); train
    only what is missing and store the merged record. ``fresh`` ignores stored results (but never
    the trial's own training). Returns ``{trial: record}`` for the trials that were trained.
    ``on_training(trial, seed)`` is called before each training.
    """
    from scalesearch.search.training.robustness import SEED_STRIDE

    stored = {} if fresh else stored_stability(study)
    out = {}
    for trial in trials:
        config = system_attrs.trial_config(trial)
        known = seed_accuracies(trial, stored)
        missing = [s for s in (config["seed"] + i * SEED_STRIDE for i in range(runs)) if s not in known]
        if not missing:
            continue
        if data is None:
            data, device = _load(study, spec, device)
        for seed in missing:
            if on_training is not None:
                on_training(trial.number, seed)
            known[seed] = _train_once(spec, config, seed, data, device or "cpu", trainer)
        out[trial.number] = record(known)
        study.set_user_attr(f"{PREFIX}{trial.number}", out[trial.number])
    return out


def _load(study: Any, spec: StudySpec, device: str | None) -> tuple[Any, str]:
    from scalesearch.search.runtime.device import resolve_device
    from scalesearch.search.study.study import load_data

    device = resolve_device(device or spec.device)
    return load_data(spec.dataset, None, device, study=study), device


def _train_once(spec: StudySpec, config: dict[str, Any], seed: int, data: Any, device: str, trainer: Trainer) -> float:
    from scalesearch.search.study.objective import train_config
    from scalesearch.search.training.models import build_model

    model = build_model(config | {"seed": seed}, data)
    return float(trainer(model, data, train_config(spec, config["training"], seed), device).val_accuracy)


def stability_columns(study: Any, trials: Sequence[Any]) -> list[dict[str, Any]]:
    """Per trial, ``accuracy_mean``, ``accuracy_std`` and ``seeds`` from the stored records (None
    where a trial has none); ``[]`` when none of ``trials`` has one, so tables add no columns."""
    stored = stored_stability(study)
    if not any(t.number in stored for t in trials):
        return []
    return [{"accuracy_mean": stored[t.number]["accuracy_mean"], "accuracy_std": stored[t.number]["accuracy_std"],
             "seeds": len(stored[t.number]["seeds"])} if t.number in stored else
            {"accuracy_mean": None, "accuracy_std": None, "seeds": None} for t in trials]
