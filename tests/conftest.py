"""Shared fixtures: tiny data, a fake trainer (made-up curves, milliseconds per trial), storages."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest

from scalesearch.search.training.train import EpochReport, TrainConfig, TrainResult

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _own_device_locks(tmp_path_factory, monkeypatch):
    """Latency measurements wait for other workers' epochs on the host (device_share.py); each
    test coordinates with its own workers only: not with other sessions on the host, nor with a
    worker an earlier test left behind (it would make this test's latencies contended)."""
    from scalesearch.search.runtime import device_share

    monkeypatch.setenv(device_share.LOCK_DIR_VAR, str(tmp_path_factory.mktemp("device-locks")))
    monkeypatch.setattr(device_share, "_SHARES", {})


@pytest.fixture(autouse=True)
def _quiet_optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


@pytest.fixture(scope="session")
def tiny_data():
    """A 10-class, 1-channel, 8x8 dataset: 60 train / 30 val / 30 test samples of digits."""
    import torch

    from scalesearch.search.datasets import Dataset, Split, load_dataset

    full = load_dataset("digits")
    torch.manual_seed(0)
    part = lambda s, n: Split(s.x[:n], s.y[:n])  # noqa: E731
    return Dataset("digits", part(full.train, 60), part(full.val, 30), part(full.test, 30),
                   full.num_classes, full.in_chans, full.input_size, full.class_names)


class FakeTrainer:
    """Made-up learning curves: accuracy rises with width and epochs; records what it was given."""

    def __init__(self, diverge_when=None):
        self.calls: list[TrainConfig] = []
        self.diverge_when = diverge_when

    def __call__(self, model, data, cfg, device, on_epoch=None):
        from scalesearch.search.training.train import Diverged

        self.calls.append(cfg)
        params = sum(p.numel() for p in model.parameters())
        ceiling = 0.80 + 0.19 * (1 - math.exp(-params / 50_000))
        curve = []
        for epoch in range(1, cfg.epochs + 1):
            if self.diverge_when and self.diverge_when(cfg):
                raise Diverged(epoch, 0, float("nan"))
            curve.append(ceiling * (1 - 0.5 ** epoch))
            if on_epoch:
                on_epoch(EpochReport(epoch, 1.0 / epoch, curve[-1], 0.001 * epoch))
        return TrainResult(curve[-1], curve, len(curve), 0.001 * len(curve), 0.1)


@pytest.fixture
def fake_trainer():
    return FakeTrainer()


@pytest.fixture
def storage_url(tmp_path):
    return f"sqlite:///{tmp_path / 'study.db'}"


TINY_OVERRIDES = [
    "budget.n_trials=3",
    "space.training.epochs=1",
    "space.training.batch_size=32",
    "space.families.resnet.width_multiplier={low: 0.0625, high: 0.125, log: true}",
    "space.families.convnext.width_multiplier={low: 0.25, high: 0.3}",
    "measure.latency_repeats=2",
    "measure.latency_warmup=1",
    # The default study prunes (and fine-tunes); tiny runs train each trial once. Pruning inside
    # the objective is tested in tests/compression/test_estimate.py and test_deploy.py.
    "space.compression={}",
]
