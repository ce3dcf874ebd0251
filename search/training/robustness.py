"""Robustness and stability of a trained model, beyond clean accuracy.

- ``robust_accuracy``: mean validation accuracy under seeded corruptions (Gaussian noise, a
  small blur, a small shift), each a function in :data:`CORRUPTIONS`.
- ``accuracy_std``: the spread (sample standard deviation) of validation accuracy over K
  trainings of the same configuration with different seeds. It costs K trainings, so it is
  measured only when it is an objective or listed in ``measure.extra_metrics`` (otherwise
  :mod:`scalesearch.search.results.stability` measures it afterwards for the Pareto trials).

Corruptions act on normalised batches; their strength is set in pixel units ([0, 1] images)
and scaled by the input size, so they mean the same on 8x8 digits and 224x224 photos.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scalesearch.search.datasets.augment import crop_at
from scalesearch.search.training.train import TrainConfig, Trainer, evaluate

if TYPE_CHECKING:
    from scalesearch.search.config.spec import StudySpec
    from scalesearch.search.datasets import Dataset

NOISE_STD = 0.1  # pixel units: 10% of the [0, 1] range
SEED_STRIDE = 1000  # retraining i of a config seeded s uses seed s + i * SEED_STRIDE

Corruption = Callable[[Any, tuple[float, ...], Any], Any]  # (x, pixel std per channel, generator) -> x


def gaussian_noise(x: Any, std: tuple[float, ...], generator: Any) -> Any:
    """Add N(0, NOISE_STD) pixel noise (divided by the channel std: inputs are normalised)."""
    import torch

    scale = NOISE_STD / torch.tensor(std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    return x + scale * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def blur(x: Any, std: tuple[float, ...], generator: Any) -> Any:
    """Gaussian blur with sigma = size / 32 pixels (at least 0.5), edges replicated."""
    import torch
    import torch.nn.functional as F

    sigma = max(0.5, x.shape[-1] / 32)
    radius = max(1, math.ceil(2 * sigma))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-t**2 / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def shift(x: Any, std: tuple[float, ...], generator: Any) -> Any:
    """Translate each image up, down, left or right (at random) by about 6% of its size
    (1 px up to 23x23, 2 px at 32x32), edges replicated."""
    import torch
    import torch.nn.functional as F

    s = max(1, round(x.shape[-1] / 16))
    n = x.shape[0]
    vertical = torch.randint(0, 2, (n,), generator=generator, device=x.device).bool()
    step = (torch.randint(0, 2, (n,), generator=generator, device=x.device) * 2 - 1) * s
    top = s + torch.where(vertical, step, 0)
    left = s + torch.where(vertical, 0, step)
    return crop_at(F.pad(x, (s, s, s, s), mode="replicate"), top, left, tuple(x.shape[-2:]))


CORRUPTIONS: dict[str, Corruption] = {"gaussian_noise": gaussian_noise, "blur": blur, "shift": shift}


class CorruptedSplit:
    """A split whose batches pass through ``corruption``, seeded: the trainer's ``evaluate``
    runs on it unchanged."""

    def __init__(self, split: Any, corruption: Corruption, std: tuple[float, ...], seed: int):
        self.split, self.corruption, self.std, self.seed = split, corruption, std, seed

    def __len__(self) -> int:
        return len(self.split)

    def num_batches(self, batch_size: int, drop_last: bool = False) -> int:
        return self.split.num_batches(batch_size, drop_last)

    def batches(self, batch_size: int, *, device: str, **kw: Any) -> Iterator[tuple[Any, Any]]:
        import torch

        generator = torch.Generator(device=device).manual_seed(self.seed)
        for x, y in self.split.batches(batch_size, device=device, **kw):
            yield self.corruption(x.float(), self.std, generator).to(x.dtype), y


@dataclass(frozen=True)
class RobustResult:
    accuracy: float  # mean over corruptions
    per_corruption: dict[str, float]


def robust_accuracy(model: Any, split: Any, device: str, std: Sequence[float], *, seed: int = 0,
                    cfg: TrainConfig | None = None) -> RobustResult:
    """Accuracy of ``model`` on ``split`` under each of :data:`CORRUPTIONS`, and their mean.

    ``std`` is the per-channel pixel std the split was normalised with (``Dataset.std``).
    """
    std, cfg = tuple(std), cfg or TrainConfig()
    per = {name: evaluate(model, CorruptedSplit(split, fn, std, seed + i), device, cfg)
           for i, (name, fn) in enumerate(CORRUPTIONS.items())}
    return RobustResult(statistics.fmean(per.values()), per)


@dataclass(frozen=True)
class Stability:
    accuracies: tuple[float, ...]  # one per training, seeds s, s + 1000, s + 2000, ...
    seeds: tuple[int, ...]

    @property
    def std(self) -> float:
        return statistics.stdev(self.accuracies)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accuracies)


def stability(rebuild: Callable[[int], Any], data: Dataset, cfg: TrainConfig, device: str,
              trainer: Trainer, runs: int, known: dict[int, float] | None = None) -> Stability:
    """Validation accuracy of ``runs`` trainings seeded ``cfg.seed + i * SEED_STRIDE``.

    ``rebuild(seed)`` returns a fresh model; ``known`` maps seeds already trained to their
    accuracy (the trial's own training), which are not trained again.
    """
    known = dict(known or {})
    seeds = tuple(cfg.seed + i * SEED_STRIDE for i in range(runs))
    for seed in seeds:
        if seed not in known:
            known[seed] = trainer(rebuild(seed), data, dataclasses.replace(cfg, seed=seed), device).val_accuracy
    return Stability(tuple(known[s] for s in seeds), seeds)


def requested(spec: StudySpec) -> set[str]:
    """Optional metrics this study measures in every trial."""
    from scalesearch.search.config.metrics import OPTIONAL_METRICS

    return (set(spec.objectives) | set(spec.measure.extra_metrics)) & set(OPTIONAL_METRICS)


def extra_metrics(spec: StudySpec, model: Any, data: Dataset, device: str, cfg: TrainConfig,
                  val_accuracy: float, *, trainer: Trainer,
                  rebuild: Callable[[int], Any]) -> dict[str, float | int]:
    """The optional metrics the spec asks for, for a trial whose model is trained with ``cfg``."""
    wanted, out = requested(spec), {}
    if "robust_accuracy" in wanted:
        std = data.std or (1.0,) * data.in_chans  # a hand-built Dataset may not say
        r = robust_accuracy(model, data.val, device, std, seed=cfg.seed, cfg=cfg)
        out["robust_accuracy"] = r.accuracy
        out |= {f"robust_{name}": value for name, value in r.per_corruption.items()}
    if "accuracy_std" in wanted:
        s = stability(rebuild, data, cfg, device, trainer, spec.measure.stability_runs, {cfg.seed: val_accuracy})
        out |= {"accuracy_std": s.std, "accuracy_mean": s.mean, "stability_runs": len(s.seeds)}
    return out
