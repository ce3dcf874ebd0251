"""Training from scratch: AdamW with a cosine or one-cycle schedule, seeded; optionally random
affine augmentation on the batch's device (``augment`` strength, ``search/datasets/augment.py``)
and an EMA of the weights (``ema`` decay, ``search/training/ema.py``), which is what is
validated each epoch and what the trained model holds at the end.

The trainer knows nothing about Optuna. It reports each epoch to an ``on_epoch`` callback,
which may raise to stop training (that is how early stopping reaches it), and raises
:class:`Diverged` when the loss stops being finite.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from scalesearch.search.datasets import Dataset, Split
from scalesearch.search.datasets.augment import Affine, device_generator
from scalesearch.search.training.ema import WeightAverage
from scalesearch.search.training.schedules import SCHEDULES
from scalesearch.search.training.speed import FiniteWatch, make_optimizer, speed_settings

ONECYCLE_WARMUP = 0.3  # fraction of training before one-cycle's learning rate peaks (torch's default)


@dataclass(frozen=True)
class TrainConfig:
    """Searched knobs (``spaces.space.TRAINING_KNOBS``) plus fixed trainer settings."""

    lr: float = 3e-3
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0
    epochs: int = 10
    batch_size: int = 64
    schedule: str = "cosine"
    warmup_epochs: float = 0.0  # linear warm-up before the cosine decay
    augment: float = 0.0  # random rotation/scale/shift strength in [0, 1] (datasets/augment.py); 0 = off
    ema: float = 0.0  # per-step decay of the weights' moving average (e.g. 0.99); 0 = off
    grad_clip: float = 5.0
    amp: bool = True  # bf16 autocast on a CUDA GPU that has bf16 (speed.autocast_dtype)
    channels_last: bool = True  # on CUDA
    eval_batch_size: int = 1024
    seed: int = 0


@dataclass(frozen=True)
class EpochReport:
    epoch: int  # 1-based
    train_loss: float
    val_accuracy: float
    seconds: float  # cumulative training time


@dataclass(frozen=True)
class TrainResult:
    val_accuracy: float
    curve: list[float] = field(default_factory=list)  # validation accuracy after each epoch
    epochs_run: int = 0
    train_seconds: float = 0.0
    train_loss: float = math.nan


class Diverged(Exception):
    """The training loss became NaN or infinite."""

    def __init__(self, epoch: int, step: int, loss: float):
        super().__init__(f"loss became {loss} at epoch {epoch}, step {step}")
        self.epoch, self.step, self.loss = epoch, step, loss


OnEpoch = Callable[[EpochReport], None]


class Trainer(Protocol):
    """What the objective calls; tests pass a fake one that returns made-up curves."""

    def __call__(self, model: Any, data: Dataset, cfg: TrainConfig, device: str,
                 on_epoch: OnEpoch | None = None) -> TrainResult: ...


def _is_cuda(device: str) -> bool:
    return device.startswith("cuda")


def _channels_last(cfg: TrainConfig, device: str) -> bool:
    return _is_cuda(device) and cfg.channels_last


def _layout(x: Any, cfg: TrainConfig, device: str) -> Any:
    """Channels-last on CUDA; plain NCHW strides elsewhere.

    A batch whose strides read as channels-last (a permuted crop, a single-channel image, where
    both layouts look contiguous) makes the CPU run the network in NHWC, and oneDNN's 1x1
    convolution backward (torch 2.14) then corrupts the heap. ``contiguous()`` cannot fix the
    single-channel case, since it already counts as contiguous; a copy with NCHW strides does.
    """
    import torch

    if _channels_last(cfg, device):
        return x.contiguous(memory_format=torch.channels_last)
    return x if x.dim() != 4 or x.stride() == _nchw_strides(x.shape) else x.clone(memory_format=torch.contiguous_format)


def _nchw_strides(shape: Any) -> tuple[int, ...]:
    """The strides of a freshly allocated tensor of ``shape`` (row-major)."""
    strides, step = [], 1
    for size in reversed(tuple(shape)):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def _autocast(cfg: TrainConfig, device: str) -> Any:
    import contextlib

    import torch

    from scalesearch.search.training.speed import autocast_dtype

    dtype = autocast_dtype(device) if cfg.amp else None
    if dtype is not None:
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def evaluate(model: Any, split: Split, device: str, cfg: TrainConfig = TrainConfig()) -> float:
    """Top-1 accuracy of ``model`` on ``split``."""
    import torch

    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)  # summed on the device, read once
    with torch.inference_mode(), _autocast(cfg, device):
        for x, y in split.batches(cfg.eval_batch_size, device=device):
            correct += (model(_layout(x, cfg, device)).argmax(dim=1) == y).sum()
    return int(correct.item()) / max(1, len(split))


def _scheduler(optimizer: Any, cfg: TrainConfig, steps_per_epoch: int) -> Any:
    import torch

    total = cfg.epochs * steps_per_epoch
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total,
                                                   pct_start=ONECYCLE_WARMUP)
    warmup = int(cfg.warmup_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def warmup_epochs(cfg: TrainConfig) -> float:
    """Epochs before the learning rate reaches its peak. Accuracy measured earlier says more
    about how fast the schedule ramps up than about the model (early stopping waits for it)."""
    return ONECYCLE_WARMUP * cfg.epochs if cfg.schedule == "onecycle" else cfg.warmup_epochs


def train(model: Any, data: Dataset, cfg: TrainConfig, device: str,
          on_epoch: OnEpoch | None = None) -> TrainResult:
    """Train ``model`` on ``data.train``, validating on ``data.val`` after every epoch."""
    import torch
    import torch.nn.functional as F

    if cfg.schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {cfg.schedule!r}")
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    speed_settings(device)
    model = model.to(device)
    if _channels_last(cfg, device):
        model = model.to(memory_format=torch.channels_last)
    steps_per_epoch = data.train.num_batches(cfg.batch_size, drop_last=True)
    optimizer = make_optimizer(model.parameters(), cfg.lr, cfg.weight_decay, device)
    scheduler = _scheduler(optimizer, cfg, steps_per_epoch)
    affine, affine_generator = Affine(cfg.augment), device_generator(device, cfg.seed)
    average = WeightAverage(model, cfg.ema) if cfg.ema > 0 else None
    curve: list[float] = []
    seconds, loss_value = 0.0, math.nan
    for epoch in range(1, cfg.epochs + 1):
        started = time.perf_counter()
        model.train()
        total_loss = torch.zeros((), device=device)
        watch = FiniteWatch(device)  # on CUDA: no host sync inside the step loop
        batches = data.train.batches(cfg.batch_size, device=device, shuffle=True, generator=generator, drop_last=True)
        for step, (x, y) in enumerate(batches):
            if affine.active:
                x = affine(x, affine_generator)
            with _autocast(cfg, device):
                loss = F.cross_entropy(model(_layout(x, cfg, device)), y, label_smoothing=cfg.label_smoothing)
            if watch.step(step, loss):
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            if average is not None:
                average.update(model)
            total_loss += loss.detach()
        if (bad := watch.first_bad()) is not None:
            raise Diverged(epoch, *bad)
        loss_value = total_loss.item() / steps_per_epoch
        seconds += time.perf_counter() - started
        curve.append(evaluate(model if average is None else average.model, data.val, device, cfg))
        if on_epoch is not None:
            on_epoch(EpochReport(epoch, loss_value, curve[-1], seconds))
    if average is not None:
        average.copy_to(model)
    return TrainResult(curve[-1] if curve else 0.0, curve, len(curve), seconds, loss_value)
