"""The compression pipeline for a trained model: prune -> sparsify -> fine-tune -> quantize.

A sampled configuration's ``compression`` section (``spaces/space.py``) becomes a
:class:`CompressionConfig`; :func:`compress` applies it and returns the deployed model with a
record of what happened (accuracy before and after fine-tuning, non-zero weights, the ratio each
stage was pruned by). Right after pruning, BatchNorm statistics are re-estimated on training
inputs: removing channels shifts what every later BatchNorm sees, and its stored statistics
otherwise cost most of the accuracy (``accuracy_after_pruning`` vs ``accuracy_before_finetune``
in the record). Fine-tuning reuses the trainer with :func:`finetune_epochs` of cosine-decayed
training at ``lr * finetune_lr_factor`` (a fixed ``finetune_epochs`` plus ``finetune_fraction``
of the training's epochs per unit of pruning ratio or sparsity: the more was removed, the longer
it recovers); it recovers from pruning and sparsity together (masks
keep pruned weights at zero meanwhile). The classifier is never pruned or sparsified.

Nothing here knows about Optuna; ``search/compression/deploy.py`` measures the result on the deploy device.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scalesearch.search.datasets import Dataset, Split
from scalesearch.search.training.train import TrainConfig, Trainer, evaluate, train
from scalesearch.spaces.space import Choice, FloatRange, Param


class CompressionError(Exception):
    """A model could not be compressed as configured (the trial ends as FAIL with the reason)."""


@dataclass(frozen=True)
class CompressionConfig:
    """One sampled point of the ``compression`` space; the defaults mean "off"."""

    pruning_ratio: float = 0.0
    pruning_allocation: str = "global"
    pruning_profile: str | tuple[float, ...] = "flat"
    finetune_epochs: int = 0
    finetune_lr_factor: float = 0.3
    finetune_fraction: float = 0.0  # + this x ratio x training epochs (see finetune_epochs())
    sparsity: float = 0.0
    quantization: str = "none"

    @classmethod
    def from_data(cls, data: Mapping[str, Any] | None) -> CompressionConfig:
        """From a sampled ``config["compression"]`` (None or absent keys: defaults)."""
        data = dict(data or {})
        if isinstance(data.get("pruning_profile"), list | tuple):
            data["pruning_profile"] = tuple(data["pruning_profile"])
        return cls(**data)

    @property
    def active(self) -> bool:
        return self.pruning_ratio > 0 or self.sparsity > 0 or self.quantization != "none"


#: The value that turns each "off-able" knob off.
OFF = {"pruning_ratio": 0.0, "sparsity": 0.0, "quantization": "none"}


def uncompressed_params(knobs: Mapping[str, Param]) -> dict[str, Any]:
    """Optuna params that make a trial uncompressed, for the knobs the space searches and that
    can be off (``{}`` when none can): what a study enqueues as each family's baseline."""
    params = {}
    for name, off in OFF.items():
        param = knobs.get(name)
        searched_choice = isinstance(param, Choice) and len(param.choices) > 1 and off in param.choices
        range_from_off = isinstance(param, FloatRange) and param.low == off and param.step is None
        if searched_choice or range_from_off:
            params[name] = off
    return params


def finetune_epochs(cc: CompressionConfig, train_epochs: int) -> int:
    """Epochs of recovery training: ``finetune_epochs`` plus ``finetune_fraction`` of the
    ``train_epochs`` per unit of what was removed (the larger of pruning ratio and sparsity),
    rounded; 0 for a model neither pruned nor sparsified. E.g. 2 + 1.0 x 0.5 x 20 = 12."""
    removed = max(cc.pruning_ratio, cc.sparsity)
    if removed <= 0:
        return 0
    return cc.finetune_epochs + round(cc.finetune_fraction * removed * train_epochs)


@dataclass
class Compressed:
    """What :func:`compress` returns."""

    model: Any  # the deployed model (quantized when asked), on the deploy device
    float_model: Any  # pruned + sparsified float32 model before quantization, on the train device
    config: CompressionConfig
    history: list[list[Any]] = field(default_factory=list)  # pruning history (see search/compression/prune.py)
    quant_state: dict[str, Any] = field(default_factory=dict)  # quantizer's prepared state
    record: dict[str, Any] = field(default_factory=dict)  # before/after facts, plain values


def calibration_batches(split: Split, samples: int, batch_size: int = 64) -> list[Any]:
    """The first ``samples`` inputs of ``split`` in its stored order (the split is already
    shuffled; no augmentation), on the CPU. Works for in-memory and streaming splits."""
    out, n = [], 0
    for x, _ in split.batches(min(batch_size, samples), device="cpu"):
        out.append(x[: samples - n])
        n += len(out[-1])
        if n >= samples:
            break
    return out


def recalibrate_batchnorm(model: Any, inputs: list[Any], device: str) -> bool:
    """Re-estimate every BatchNorm's running statistics on ``inputs`` (a cumulative average);
    other layers stay in eval mode. Returns whether the model has BatchNorm at all."""
    import torch
    from torch import nn

    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return False
    model.eval()
    momenta = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None
        bn.train()
    with torch.no_grad():
        for x in inputs:
            if len(x) > 1:
                model(x.to(device))
    for bn, momentum in zip(norms, momenta, strict=True):
        bn.momentum = momentum
        bn.eval()
    return True


def predictions(model: Any, split: Split, device: str, batch_size: int = 1024) -> Any:
    """Top-1 class of every sample of ``split``, plain inference on ``device`` (CPU tensor)."""
    return _predict(model, split, device, batch_size)[0]


def accuracy(model: Any, split: Split, device: str, batch_size: int = 1024) -> float:
    """Top-1 accuracy of ``model`` (e.g. quantized: no autocast, no layout change) on ``split``."""
    predicted, labels = _predict(model, split, device, batch_size)
    return float((predicted == labels).float().mean()) if len(labels) else 0.0


def _predict(model: Any, split: Split, device: str, batch_size: int) -> tuple[Any, Any]:
    import torch

    model.eval()
    predicted, labels = [], []
    with torch.inference_mode():
        for x, y in split.batches(batch_size, device=device):
            predicted.append(model(x).argmax(dim=1).cpu())
            labels.append(y.cpu())
    return torch.cat(predicted), torch.cat(labels)


def compress(model: Any, data: Dataset, cc: CompressionConfig, *, train_cfg: TrainConfig,
             device: str, deploy_device: str, trainer: Trainer = train,
             calibration_samples: int = 512) -> Compressed:
    """Compress a trained ``model`` (modified in place; the deployed copy is returned)."""
    from scalesearch.search.compression import prune, quantize, sparsity

    model = model.to(device)
    calibration = calibration_batches(data.train, calibration_samples)
    example = calibration[0][:2].to(device)
    record: dict[str, Any] = {"quantization": cc.quantization}
    history: list[list[Any]] = []
    try:
        if cc.pruning_ratio > 0:
            result = prune.prune(model, example, cc.pruning_ratio, cc.pruning_allocation, cc.pruning_profile)
            history = result.history
            record["pruning_stage_ratios"] = list(result.stage_ratios)
        sparsity.sparsify(model, cc.sparsity)
    except (RuntimeError, ValueError, TypeError, AttributeError) as e:
        raise CompressionError(f"pruning {type(model).__name__} failed: {type(e).__name__}: {e}") from e
    if cc.pruning_ratio > 0 or cc.sparsity > 0:
        record["accuracy_after_pruning"] = evaluate(model, data.val, device, train_cfg)
        if recalibrate_batchnorm(model, calibration, device):
            record["accuracy_before_finetune"] = evaluate(model, data.val, device, train_cfg)
        else:
            record["accuracy_before_finetune"] = record["accuracy_after_pruning"]
        record["accuracy_after_finetune"] = record["accuracy_before_finetune"]
        if (epochs := finetune_epochs(cc, train_cfg.epochs)) > 0:
            ft = dataclasses.replace(train_cfg, epochs=epochs, schedule="cosine",
                                     warmup_epochs=0.0, lr=train_cfg.lr * cc.finetune_lr_factor)
            tuned = trainer(model, data, ft, device, None)
            record["accuracy_after_finetune"] = tuned.val_accuracy
            record["finetune_seconds"] = tuned.train_seconds
            record["finetune_epochs"] = epochs
        sparsity.fix(model)
        record["weight_sparsity"] = sparsity.weight_sparsity(model)
    record["nonzero_params"] = sparsity.count_nonzero(model)
    model.eval()
    if cc.quantization == "none":
        deployed = model if deploy_device == device else copy.deepcopy(model).to(deploy_device)
        return Compressed(deployed, model, cc, history, dict(model.state_dict()), record)
    float_preds = predictions(model, data.val, device)
    try:
        deployed, state = quantize.quantize(cc.quantization, copy.deepcopy(model), example, calibration)
        deployed = deployed.to(deploy_device)
        record["quantization_agreement"] = float(
            (predictions(deployed, data.val, deploy_device) == float_preds).float().mean())
    except (RuntimeError, ValueError, TypeError, AttributeError, NotImplementedError) as e:
        raise CompressionError(f"quantization {cc.quantization} of {type(model).__name__} failed: "
                               f"{type(e).__name__}: {e}") from e
    return Compressed(deployed, model, cc, history, state, record)
