"""Train chosen trials again with more seeds, storing every result on the study for reuse.

Training ``i`` of a trial seeded ``s`` uses seed ``s + i * 1000`` (``SEED_STRIDE``); training 0
is the trial itself, so its stored accuracy counts and is never trained again. Each extra
training runs the trial's own pipeline (``search/study/objective.py``): build, train, then the
config's compression (pruning, fine-tuning, quantization) on the deploy device and runtime, and
the deployed model's validation accuracy -- the number the trial stored as ``accuracy``. So a
pruned trial's spread over seeds includes its compression loss, which is itself noisy.

Results live in the study attribute ``ss.stability.<trial>`` (finished trials take no new
attributes): ``{"seeds", "accuracies", "accuracy_mean", "accuracy_std", "float_accuracies",
"deployed": true}``, ``accuracies`` being deployed ones and ``float_accuracies`` the trained
models' before compression. A record written before deployed re-evaluation existed (no
``deployed`` key) holds float accuracies: it is read for an uncompressed trial (they are its
deployed ones) and ignored, then trained again, for a compressed one.
``scalesearch stability``, ``export`` and a study's ``measure.final_reeval`` all read and extend
the same records.
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


def deployed_accuracy(trial: Any) -> float:
    """The trial's stored (deployed: compressed as configured) validation accuracy."""
    return float(system_attrs.exact_metrics(trial)["accuracy"])


def compressed(trial: Any) -> bool:
    """Whether the trial's config compresses its model."""
    from scalesearch.search.compression.compress import CompressionConfig

    return CompressionConfig.from_data(system_attrs.trial_config(trial).get("compression")).active


def _usable(trial: Any, record: dict[str, Any] | None) -> bool:
    """Whether a stored record holds deployed accuracies for ``trial`` (see the module docstring)."""
    return bool(record) and (bool(record.get("deployed")) or not compressed(trial))


def seed_accuracies(trial: Any, stored: dict[int, dict[str, Any]] | None = None) -> dict[int, float]:
    """``{seed: deployed validation accuracy}`` known for ``trial``: its own plus stored ones."""
    known = {int(system_attrs.trial_config(trial)["seed"]): deployed_accuracy(trial)}
    record = (stored or {}).get(trial.number)
    if _usable(trial, record):
        known |= {int(s): float(a) for s, a in zip(record["seeds"], record["accuracies"], strict=True)}
    return known


def _float_accuracies(trial: Any, stored: dict[int, dict[str, Any]]) -> dict[int, float]:
    known = {int(system_attrs.trial_config(trial)["seed"]): float_accuracy(trial)}
    record = stored.get(trial.number)
    if _usable(trial, record):
        floats = record.get("float_accuracies", record["accuracies"])
        known |= {int(s): float(a) for s, a in zip(record["seeds"], floats, strict=True)}
    return known


def record(known: dict[int, float], floats: dict[int, float] | None = None) -> dict[str, Any]:
    """The stored form of ``{seed: deployed accuracy}`` (std needs two trainings; null before),
    with ``{seed: float accuracy}`` beside it."""
    seeds = sorted(known)
    accuracies = [known[s] for s in seeds]
    floats = floats or known
    return {"seeds": seeds, "accuracies": accuracies, "accuracy_mean": statistics.fmean(accuracies),
            "accuracy_std": statistics.stdev(accuracies) if len(accuracies) > 1 else None,
            "float_accuracies": [floats[s] for s in seeds], "deployed": True}


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
        known, floats = seed_accuracies(trial, stored), _float_accuracies(trial, stored)
        missing = [s for s in (config["seed"] + i * SEED_STRIDE for i in range(runs)) if s not in known]
        if not missing:
            continue
        if data is None:
            data, device = _load(study, spec, device)
        for seed in missing:
            if on_training is not None:
                on_training(trial.number, seed)
            known[seed], floats[seed] = deploy_once(spec, config, seed, data, device or "cpu", trainer)
        out[trial.number] = record(known, floats)
        study.set_user_attr(f"{PREFIX}{trial.number}", out[trial.number])
    return out


def _load(study: Any, spec: StudySpec, device: str | None) -> tuple[Any, str]:
    from scalesearch.search.runtime.device import resolve_device
    from scalesearch.search.study.study import load_data

    device = resolve_device(device or spec.device)
    return load_data(spec.dataset, None, device, study=study), device


def deploy_once(spec: StudySpec, config: dict[str, Any], seed: int, data: Any, device: str,
                trainer: Trainer = train) -> tuple[float, float]:
    """``(deployed, float)`` validation accuracy of one more training of ``config`` with ``seed``,
    by the objective's pipeline: train, compress as configured on the deploy device, and score
    the deployed model as ``search/compression/deploy.py`` does (on ``deploy.runtime``)."""
    from scalesearch.search.compression.compress import CompressionConfig, accuracy, compress
    from scalesearch.search.compression.deploy import deployed_accuracy as float_on_deploy
    from scalesearch.search.compression.deploy import resolve_deploy_device
    from scalesearch.search.study.objective import train_config
    from scalesearch.search.training.models import build_model

    model = build_model(config | {"seed": seed}, data)
    cfg = train_config(spec, config["training"], seed)
    result = trainer(model, data, cfg, device)
    deploy_device = resolve_deploy_device(spec.deploy.device, device)
    trained = float(float_on_deploy(model, result, data, device, deploy_device))
    cc = CompressionConfig.from_data(config.get("compression"))
    out = compress(model, data, cc, train_cfg=cfg, device=device, deploy_device=deploy_device, trainer=trainer,
                   calibration_samples=spec.deploy.calibration_samples) if cc.active else None
    if spec.deploy.runtime == "onnxruntime":
        from scalesearch.search.compression.onnx_deploy import onnx_metrics

        float_model = out.float_model if out is not None else model
        return float(onnx_metrics(float_model, cc.quantization, data, spec, deploy_device)["accuracy"]), trained
    return (float(accuracy(out.model, data.val, deploy_device)) if out is not None else trained), trained


def seed_summaries(study: Any, trials: Sequence[Any]) -> dict[int, dict[str, Any]]:
    """Per trial of ``trials`` with at least 2 known deployed accuracies (its own + stored ones):
    ``accuracy_mean``, ``accuracy_std``, ``seeds`` and, when the study recorded its split sizes,
    ``interval``: the 95 % validation interval of :mod:`.uncertainty` (the one ``export`` states)."""
    from scalesearch.search.config import attrs
    from scalesearch.search.results.uncertainty import estimate

    stored = stored_stability(study)
    sizes = (study.user_attrs.get(attrs.SPLIT) or {}).get("sizes") or {}
    out = {}
    for trial in trials:
        accuracies = list(seed_accuracies(trial, stored).values())
        if len(accuracies) < 2:
            continue
        out[trial.number] = {"accuracy_mean": statistics.fmean(accuracies), "accuracy_std": statistics.stdev(accuracies),
                             "seeds": len(accuracies)}
        if "val" in sizes and "test" in sizes:
            out[trial.number]["interval"] = estimate(accuracies, int(sizes["val"]), int(sizes["test"])).validation
    return out


def stability_columns(study: Any, trials: Sequence[Any]) -> list[dict[str, Any]]:
    """Per trial, ``accuracy_mean``, ``accuracy_std``, ``seeds`` and the 95 % validation interval
    (``accuracy_95%``) over its deployed accuracies (None where a trial has no re-evaluation);
    ``[]`` when none of ``trials`` has one, so tables add no columns."""
    summaries = seed_summaries(study, trials)
    if not summaries:
        return []
    empty = {"accuracy_mean": None, "accuracy_std": None, "seeds": None, "accuracy_95%": None}
    return [empty | {k: v for k, v in summaries[t.number].items() if k != "interval"}
            | {"accuracy_95%": interval_text(summaries[t.number].get("interval"))} if t.number in summaries else empty
            for t in trials]


def interval_text(interval: tuple[float, float] | None) -> str | None:
    """``[0.9412, 0.9611]`` (None without an interval)."""
    return None if interval is None else f"[{interval[0]:.4f}, {interval[1]:.4f}]"
