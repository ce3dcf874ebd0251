"""The compression pipeline: what it records, what it validates, and that the deployed model is
the one the config asked for."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from scalesearch.errors import SpecError
from scalesearch.search.compression import compress as C
from scalesearch.search.compression import knobs as K
from scalesearch.search.compression.measure import count_params
from scalesearch.search.compression.prune import classifier
from scalesearch.search.training.train import TrainResult, train
from scalesearch.spaces.registry import get_family
from scalesearch.spaces.space import Choice, Fixed, FloatRange, IntRange
from tests.compression_helpers import IO, TRAIN, digits, trained


class RecordingTrainer:
    """A fake fine-tuner: records its config, trains nothing, reports a made-up accuracy."""

    def __init__(self) -> None:
        self.calls: list = []

    def __call__(self, model, data, cfg, device, on_epoch=None) -> TrainResult:
        self.calls.append(cfg)
        return TrainResult(0.5, [0.5] * cfg.epochs, cfg.epochs, 0.01)


def test_config_defaults_are_off_and_lists_become_tuples() -> None:
    assert not C.CompressionConfig.from_data(None).active
    assert not C.CompressionConfig.from_data({"finetune_epochs": 3}).active
    cc = C.CompressionConfig.from_data({"pruning_ratio": 0.3, "pruning_profile": [1, 2]})
    assert cc.active and cc.pruning_profile == (1, 2)


@pytest.mark.parametrize(("knobs", "deploy", "message"), [
    ({"pruning_ratio": FloatRange(0.0, 0.99)}, None, "outside"),
    ({"sparsity": Fixed(-0.1)}, None, "outside"),
    ({"pruning_allocation": Choice(("global", "layerwise"))}, None, "layerwise"),
    ({"pruning_profile": Fixed("steep")}, None, "steep"),
    ({"pruning_profile": Fixed((1.0, -2.0))}, None, "non-negative"),
    ({"finetune_epochs": FloatRange(0.0, 3.0)}, None, "type: int"),
    ({"finetune_epochs": Fixed(1.5)}, None, "whole epochs"),
    ({"quantization": Choice(("none", "int4"))}, None, "int4"),
    ({"quantization": Choice(("none", "bf16"))}, "cpu", "deploy.device: cuda"),
    ({"quantization": Fixed("int8_static")}, "cuda", "deploy.device: cpu"),
])
def test_validation_refuses_what_cannot_run(knobs: dict, deploy: str | None, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        K.validate_compression(knobs, deploy)


def test_validation_accepts_a_full_space_and_defers_device_checks_to_run_time() -> None:
    knobs = {"pruning_ratio": Choice((0.0, 0.5)), "pruning_allocation": Choice(("global", "uniform")),
             "pruning_profile": Fixed((0.5, 1.5)), "finetune_epochs": IntRange(0, 3),
             "finetune_lr_factor": Fixed(0.3), "sparsity": FloatRange(0.0, 0.9),
             "quantization": Choice(tuple(K.QUANTIZATION_DEVICES))}
    K.validate_compression(knobs, None)


def test_pipeline_prunes_fine_tunes_and_records_with_a_fake_trainer() -> None:
    data, model = digits(), trained("resnet")
    before = count_params(model)
    fake = RecordingTrainer()
    cc = C.CompressionConfig(pruning_ratio=0.5, pruning_profile="later", finetune_epochs=2,
                             finetune_lr_factor=0.5, sparsity=0.2)
    out = C.compress(model, data, cc, train_cfg=TRAIN, device="cpu", deploy_device="cpu", trainer=fake)
    (ft,) = fake.calls
    assert ft.epochs == 2 and ft.lr == pytest.approx(TRAIN.lr * 0.5) and ft.schedule == "cosine"
    assert count_params(out.model) < 0.5 * before
    assert classifier(out.model).out_features == 10
    r = out.record
    assert r["accuracy_after_finetune"] == 0.5 and 0 <= r["accuracy_before_finetune"] <= 1
    assert r["weight_sparsity"] == pytest.approx(0.2, abs=0.01)
    assert r["nonzero_params"] < count_params(out.model)
    assert r["pruning_stage_ratios"][0] < r["pruning_stage_ratios"][-1]
    assert out.history and r["quantization"] == "none"


def test_batchnorm_recalibration_recovers_accuracy_lost_to_pruning() -> None:
    # Twice the smallest width: at 4 channels a layer pruned by 30 % loses what no statistics recover.
    data = digits()
    torch.manual_seed(0)
    model = get_family("resnet").build(IO, width_multiplier=0.0625, depth_multiplier=0.5)
    train(model, data, TRAIN, "cpu")
    cc = C.CompressionConfig(pruning_ratio=0.3)
    out = C.compress(model.eval(), data, cc, train_cfg=TRAIN, device="cpu", deploy_device="cpu",
                     trainer=RecordingTrainer())
    assert out.record["accuracy_before_finetune"] > out.record["accuracy_after_pruning"] + 0.1


def test_pipeline_end_to_end_keeps_most_accuracy() -> None:
    """Real fine-tuning and int8: pruned at 0.3 and quantized, the model stays useful."""
    data, model = digits(), trained("convnext")
    float_acc = (C.predictions(model, data.val, "cpu") == data.val.y).float().mean().item()
    cc = C.CompressionConfig(pruning_ratio=0.3, finetune_epochs=2, quantization="int8_static")
    out = C.compress(model, data, cc, train_cfg=TRAIN, device="cpu", deploy_device="cpu")
    deployed_acc = (C.predictions(out.model, data.val, "cpu") == data.val.y).float().mean().item()
    assert deployed_acc > float_acc - 0.1
    assert out.record["quantization_agreement"] > 0.9
    assert set(out.quant_state) > set(out.float_model.state_dict())  # + calibrated observer ranges


class DataDependent(nn.Module):
    """Runs fine, but FX cannot trace its tensor-valued branch."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.fc = nn.Conv2d(1, 8, 3, padding=1), nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if x.mean() > 0:
            x = x.relu()
        return self.fc(x.mean((2, 3)))


def test_a_model_the_quantizer_cannot_handle_raises_compression_error() -> None:
    cc = C.CompressionConfig(quantization="int8_static")
    with pytest.raises(C.CompressionError, match="int8_static of DataDependent failed"):
        C.compress(DataDependent(), digits(), cc, train_cfg=dataclasses.replace(TRAIN, epochs=1),
                   device="cpu", deploy_device="cpu")


@pytest.mark.parametrize(("cc", "epochs"), [
    (C.CompressionConfig(), 0),
    (C.CompressionConfig(finetune_epochs=2, finetune_fraction=1.0), 0),  # nothing removed: nothing to recover
    (C.CompressionConfig(pruning_ratio=0.5, finetune_epochs=2), 2),
    (C.CompressionConfig(pruning_ratio=0.5, finetune_epochs=2, finetune_fraction=1.0), 12),
    (C.CompressionConfig(pruning_ratio=0.25, finetune_fraction=0.4), 2),
    (C.CompressionConfig(sparsity=0.75, pruning_ratio=0.25, finetune_fraction=1.0), 15),
])
def test_finetune_epochs_grow_with_what_was_removed(cc, epochs):
    assert C.finetune_epochs(cc, 20) == epochs
