"""Train chosen trials again with more seeds, storing every result on the study for reuse.

Training ``i`` of a trial seeded ``s`` uses seed ``s + i * 1000`` (``SEED_STRIDE``); training 0
is the trial itself, so its stored accuracy counts and is never trained again. Each extra
training runs the trial's own pipeline (``search/study/objective.py``): build, train, then the
config's compression (pruning, fine-tuning, quantization) on the deploy device and runtime, and
the deployed model's validation accuracy -- the number the trial stored as ``accuracy``. So a
pruned trial's spread over seeds includes its compression loss, which is itself noisy.

Where it trains (``resplit``): on the study's own split, or (``resplit=True``, ``export``'s
default) on a fresh partition per training: training ``i`` trains on and is scored on a
stratified redraw of the study's train + validation images with the same sizes
(``search/datasets/split.py``, ``repartition``; the test split is never touched), seeded by
:func:`partition_seed` from the study's seed and ``i``, so every trial's training ``i`` sees the
same partition. The search chose its front on the study's validation images, so a score there is
biased upward for the trials it kept; a fresh partition's is not. A promise read from re-split
trainings (:func:`accuracies`) leaves the trial's own score out for that reason.

Results live in the study attribute ``ss.stability.<trial>`` (finished trials take no new
attributes): aligned lists ``seeds``, ``partitions`` (the partition's seed, or null for the
study's split), ``accuracies`` (deployed) and ``float_accuracies`` (the trained models' before
compression); ``accuracy_mean``/``accuracy_std`` over those on the study's split, and
``resplit_mean``/``resplit_std`` over the re-split ones when there are any; ``"deployed": true``.
A record without ``partitions`` (written before re-splitting existed) is of the study's split.
A record without ``deployed`` holds float accuracies: it is read for an uncompressed trial (they
are its deployed ones) and ignored, then trained again, for a compressed one.
``scalesearch stability``, ``export`` and a study's ``measure.final_reeval`` all read and extend
the same records.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from scalesearch.errors import StorageError
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


Key = tuple[int, int | None]  # (training seed, partition seed; None: the study's split)


def _order(key: Key) -> tuple[int, int, int]:
    return key[0], key[1] is not None, key[1] or 0


def entries(trial: Any, stored: dict[int, dict[str, Any]] | None = None) -> dict[Key, tuple[float, float]]:
    """``{(seed, partition): (deployed, float) validation accuracy}`` known for ``trial``: its own
    training (on the study's split) plus the stored ones."""
    known = {(int(system_attrs.trial_config(trial)["seed"]), None): (deployed_accuracy(trial), float_accuracy(trial))}
    record = (stored or {}).get(trial.number)
    if _usable(trial, record):
        floats = record.get("float_accuracies", record["accuracies"])
        partitions = record.get("partitions") or [None] * len(record["seeds"])
        for s, p, a, f in zip(record["seeds"], partitions, record["accuracies"], floats, strict=True):
            known[(int(s), None if p is None else int(p))] = (float(a), float(f))
    return dict(sorted(known.items(), key=lambda kv: _order(kv[0])))


def _split_lists(accs: Sequence[float], partitions: Sequence[int | None]) -> tuple[list[float], list[float]]:
    """``(on the study's split, on fresh partitions)``."""
    return ([a for a, p in zip(accs, partitions, strict=True) if p is None],
            [a for a, p in zip(accs, partitions, strict=True) if p is not None])


def accuracies(trial: Any, stored: dict[int, dict[str, Any]] | None = None, *, resplit: bool = False) -> list[float]:
    """The deployed accuracies a promise about ``trial`` reads: with ``resplit``, those on fresh
    partitions when it has any; else (or without any) those on the study's split, its own first."""
    known = entries(trial, stored)
    same, fresh = _split_lists([a for a, _ in known.values()], [p for _, p in known])
    return fresh if resplit and fresh else same


def spreads(stored: dict[int, dict[str, Any]], *, resplit: bool = False) -> list[tuple[float, int]]:
    """``(std, trainings)`` of every stored record with 2 or more accuracies of the kind a promise
    reads (as :func:`accuracies`), for the pooled seed std."""
    out = []
    for r in stored.values():
        same, fresh = _split_lists(r["accuracies"], r.get("partitions") or [None] * len(r["accuracies"]))
        accs = fresh if resplit and fresh else same
        if len(accs) > 1:
            out.append((statistics.stdev(accs), len(accs)))
    return out


def pool(study: Any, spec: StudySpec | None, stored: dict[int, dict[str, Any]] | None = None, *,
         resplit: bool = False) -> Any:
    """The seed std pooled over the study's re-evaluated useful trials (:mod:`.useful`: a
    barely-learned model's seeds swing by tens of points and are no guide to a useful one's;
    every re-evaluated trial without a ``spec``), as :class:`.uncertainty.Pooled`, or None when
    none has 2 trainings of the kind read."""
    from scalesearch.search.results.report import complete_trials
    from scalesearch.search.results.uncertainty import pooled
    from scalesearch.search.results.useful import split_useful

    stored = stored_stability(study) if stored is None else stored
    if not stored:
        return None
    if spec is None:
        return pooled(spreads(stored, resplit=resplit))
    keep = {t.number for t in split_useful([t for t in complete_trials(study) if t.values is not None], spec)[0]}
    return pooled(spreads({n: r for n, r in stored.items() if n in keep}, resplit=resplit))


def missing(study: Any, spec: StudySpec, trials: Sequence[Any], runs: int, *, resplit: bool = False) -> list[tuple[Any, int]]:
    """``(trial, seed)`` of the trainings :func:`reevaluate` would run now (stored ones are reused)."""
    from scalesearch.search.training.robustness import SEED_STRIDE

    stored = stored_stability(study)
    out = []
    for trial in trials:
        seed, known = system_attrs.trial_config(trial)["seed"], entries(trial, stored)
        out += [(trial, seed + i * SEED_STRIDE) for i in range(1, runs)
                if (seed + i * SEED_STRIDE, partition_seed(spec, i) if resplit else None) not in known]
    return out


def record(known: dict[Key, tuple[float, float]]) -> dict[str, Any]:
    """The stored form of ``{(seed, partition): (deployed, float) accuracy}`` (a std needs two
    trainings; null before)."""
    keys = sorted(known, key=_order)
    accs = [known[k][0] for k in keys]
    same, fresh = _split_lists(accs, [k[1] for k in keys])
    std = lambda xs: statistics.stdev(xs) if len(xs) > 1 else None  # noqa: E731
    out = {"seeds": [k[0] for k in keys], "partitions": [k[1] for k in keys], "accuracies": accs,
           "accuracy_mean": statistics.fmean(same), "accuracy_std": std(same),
           "float_accuracies": [known[k][1] for k in keys], "deployed": True}
    return out | ({"resplit_mean": statistics.fmean(fresh), "resplit_std": std(fresh)} if fresh else {})


def partition_seed(spec: StudySpec, index: int) -> int:
    """The seed of the fresh partition for training ``index``: drawn from the study's seed
    (``sampler.seed``, 0 when unset) and ``index``, so a study's trainings ``index`` share one
    partition and studies with other seeds draw other ones."""
    import numpy as np

    return int(np.random.SeedSequence([(spec.sampler.seed or 0) % 2**32, index]).generate_state(1)[0])


def reevaluate(study: Any, spec: StudySpec, trials: Sequence[Any], runs: int, *, data: Any = None,
               device: str | None = None, trainer: Trainer = train, fresh: bool = False, resplit: bool = False,
               on_training: Callable[[int, int], None] | None = None) -> dict[int, dict[str, Any]]:
    """Make sure each of ``trials`` has ``runs`` trainings (its own + ``runs - 1`` seeds, each on a
    fresh partition with ``resplit``); train only what is missing and store the merged record.
    ``fresh`` ignores stored results (but never the trial's own training). Returns
    ``{trial: record}`` for the trials that were trained. ``on_training(trial, seed)`` is called
    before each training.
    """
    from scalesearch.search.training.robustness import SEED_STRIDE

    stored = {} if fresh else stored_stability(study)
    out: dict[int, dict[str, Any]] = {}
    datasets: dict[int | None, Any] = {} if data is None else {None: data}
    device = device or ("cpu" if data is not None else None)
    for trial in trials:
        config = system_attrs.trial_config(trial)
        known = entries(trial, stored)
        wanted = [(config["seed"] + i * SEED_STRIDE, partition_seed(spec, i) if resplit else None) for i in range(1, runs)]
        missing = [key for key in wanted if key not in known]
        if not missing:
            continue
        for seed, partition in missing:
            if partition not in datasets:
                datasets[partition], device = _load(study, spec, device, partition)
            if on_training is not None:
                on_training(trial.number, seed)
            known[(seed, partition)] = deploy_once(spec, config, seed, datasets[partition], device or "cpu", trainer)
        out[trial.number] = record(known)
        study.set_user_attr(f"{PREFIX}{trial.number}", out[trial.number])
    return out


def _load(study: Any, spec: StudySpec, device: str | None, partition: int | None) -> tuple[Any, str]:
    """The study's data (``partition`` None) or a fresh partition of it, on ``device``."""
    from scalesearch.search.datasets import load_dataset
    from scalesearch.search.datasets.recorded import split_record
    from scalesearch.search.runtime.device import resolve_device
    from scalesearch.search.study.study import load_data

    device = resolve_device(device or spec.device)
    if partition is None:
        return load_data(spec.dataset, None, device, study=study), device
    record = split_record(study)
    if record is None:
        raise StorageError(f"study {study.study_name!r} has recorded no split to redraw; "
                           "re-evaluate on its own split (export --same-split)")
    data = load_dataset(spec.dataset, record=record, resplit=partition)
    return (data.to(device) if device.startswith("cuda") else data), device


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


def seed_summaries(study: Any, trials: Sequence[Any], spec: StudySpec | None = None) -> dict[int, dict[str, Any]]:
    """Per trial of ``trials`` with at least 2 known deployed accuracies, those on fresh partitions
    when there are 2 or more (``resplit`` true; what ``export`` promises by default), else its own
    + stored ones on the study's split: ``accuracy_mean``, ``accuracy_std``, ``seeds``, ``resplit``
    and, when the study recorded its split sizes, ``interval``: the 95 % validation interval of
    :mod:`.uncertainty` (the one ``export`` states: the seed std pooled over the study's useful
    re-evaluated trials, :func:`pool`; ``spec`` defaults to the study's stored one)."""
    from scalesearch.search.config import attrs
    from scalesearch.search.results.uncertainty import estimate

    stored = stored_stability(study)
    if not stored:
        return {}
    if spec is None:
        from scalesearch.search.study.study import stored_spec

        try:
            spec = stored_spec(study)
        except StorageError:  # a study made by hand: pool every record
            spec = None
    pools = {flag: pool(study, spec, stored, resplit=flag) for flag in (False, True)}
    sizes = (study.user_attrs.get(attrs.SPLIT) or {}).get("sizes") or {}
    out = {}
    for trial in trials:
        known = entries(trial, stored)
        same, fresh = _split_lists([a for a, _ in known.values()], [p for _, p in known])
        accs = fresh if len(fresh) > 1 else same
        if len(accs) < 2:
            continue
        out[trial.number] = {"accuracy_mean": statistics.fmean(accs), "accuracy_std": statistics.stdev(accs),
                             "seeds": len(accs), "resplit": accs is fresh}
        if "val" in sizes and "test" in sizes:
            out[trial.number]["interval"] = estimate(accs, int(sizes["val"]), int(sizes["test"]),
                                                        pooled=pools[accs is fresh]).validation
    return out


def stability_columns(study: Any, trials: Sequence[Any], spec: StudySpec | None = None) -> list[dict[str, Any]]:
    """Per trial, ``accuracy_mean``, ``accuracy_std``, ``seeds`` and the 95 % validation interval
    (``accuracy_95%``) over its deployed accuracies (None where a trial has no re-evaluation);
    ``[]`` when none of ``trials`` has one, so tables add no columns."""
    summaries = seed_summaries(study, trials, spec)
    if not summaries:
        return []
    empty = {"accuracy_mean": None, "accuracy_std": None, "seeds": None, "accuracy_95%": None}
    return [empty | {k: v for k, v in summaries[t.number].items() if k != "interval"}
            | {"accuracy_95%": interval_text(summaries[t.number].get("interval"))} if t.number in summaries else empty
            for t in trials]


def over_seeds_text(summary: dict[str, Any], *, interval_inside: bool = False) -> str:
    """A :func:`seed_summaries` entry for people: ``0.9523 ± 0.0172 (3 seeds, re-split) [0.9301,
    0.9702]``, or with ``interval_inside`` ``... (3 seeds, re-split, 95 % interval [0.9301, 0.9702])``."""
    head = (f"{summary['accuracy_mean']:.4f} ± {summary['accuracy_std']:.4f} ({summary['seeds']} seeds"
            + (", re-split" if summary.get("resplit") else ""))
    if "interval" not in summary:
        return head + ")"
    interval = interval_text(summary["interval"])
    return f"{head}, 95 % interval {interval})" if interval_inside else f"{head}) {interval}"


def interval_text(interval: tuple[float, float] | None) -> str | None:
    """``[0.9412, 0.9611]`` (None without an interval)."""
    return None if interval is None else f"[{interval[0]:.4f}, {interval[1]:.4f}]"
