"""Rebuild a finished trial's deployed model from its stored config, and save it.

A trial stores its sampled config (``ss.config``) and the study its spec, and every step is
seeded: building the model, training it, pruning by magnitude, fine-tuning, calibrating on the
first training inputs. :func:`reproduce` re-runs those steps and so returns the model the trial
measured (same weights on the same device and torch build; latency is re-measured, not stored).
:func:`export_trial` writes it as a model folder, the format ``train`` writes
(``search/compression/artifact.py``: ``model.yaml`` + ``model.safetensors``), plus ``model.onnx``
checked with onnxruntime on the study's test split (``search/results/onnx_model.py``).

Example::

    study, spec = open_study(None, "sqlite:///compress.db", "digits_compress")
    export_trial(study, 12, "out/trial-12")
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from scalesearch.errors import ExportError
from scalesearch.search.compression import artifact
from scalesearch.search.compression.compress import Compressed, CompressionConfig, compress
from scalesearch.search.compression.deploy import resolve_deploy_device
from scalesearch.search.config import system_attrs
from scalesearch.search.config.spec import StudySpec
from scalesearch.search.datasets import Dataset
from scalesearch.search.results.onnx_model import write_onnx
from scalesearch.search.study.objective import train_config
from scalesearch.search.training.models import build_model
from scalesearch.search.training.train import Trainer, train
from scalesearch.spaces.registry import ModelInput


def reproduce(config: dict[str, Any], spec: StudySpec, data: Dataset, device: str,
              trainer: Trainer = train) -> Compressed:
    """Build, train and compress ``config`` exactly as the objective did."""
    model = build_model(config, data)
    cfg = train_config(spec, config["training"], config["seed"])
    trainer(model, data, cfg, device)
    return compress(model, data, CompressionConfig.from_data(config.get("compression")),
                    train_cfg=cfg, device=device,
                    deploy_device=resolve_deploy_device(spec.deploy.device, device),
                    trainer=trainer, calibration_samples=spec.deploy.calibration_samples)


def export_trial(study: Any, number: int, path: str | Path, *, spec: StudySpec | None = None,
                 data: Dataset | None = None, device: str | None = None, storage_url: str = "") -> Path:
    """Re-run trial ``number`` of ``study`` and save its deployed model to model folder ``path``,
    in the format ``train`` writes (``search/compression/artifact.py``): ``model.yaml`` (the
    trial's export, ``io``, the pruning history, ``onnx``) + ``model.safetensors`` + ``model.onnx``."""
    import optuna

    from scalesearch.search.results.export import export_data
    from scalesearch.search.runtime.device import resolve_device
    from scalesearch.search.study.study import load_data, stored_spec

    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    trial = trials.get(number)
    if trial is None or trial.state != optuna.trial.TrialState.COMPLETE:
        state = "does not exist" if trial is None else f"is {trial.state.name}"
        raise ExportError(f"trial {number} of study {study.study_name!r} {state}; export needs a COMPLETE trial")
    spec = spec or stored_spec(study)
    device = device or resolve_device(spec.device)
    data = data or load_data(spec.dataset, None, device, study=study)  # the study's recorded split
    config = system_attrs.trial_config(trial)
    compressed = reproduce(config, spec, data, device)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    card = export_data(study, spec, trial, storage_url=storage_url, pick=f"trial:{number}") | {
        "io": dataclasses.asdict(ModelInput(data.num_classes, data.in_chans, data.input_size)),
        "compression": artifact.compression_data(compressed.config),
        "reproduced": {"study": study.study_name, "trial": number, "device": device,
                       "record": {k: v for k, v in compressed.record.items() if isinstance(v, int | float | str)}},
    }
    card["onnx"] = write_onnx(compressed.float_model, data, path, compressed.config.quantization,  # checked on test
                              spec.deploy.calibration_samples, grey_from_colour=spec.dataset.in_chans == 1)
    return artifact.save(path, compressed, card)
