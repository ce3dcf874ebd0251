"""Issue 15, item 8: every trial reports one accuracy, the deployed model's (plain inference on
the deploy device), never the trainer's bf16-autocast evaluation on CUDA."""

from __future__ import annotations

import pytest

from scalesearch.search.compression.compress import accuracy
from scalesearch.search.compression.deploy import deploy_trial, deployed_accuracy
from scalesearch.search.config.spec import load_spec
from scalesearch.search.training.models import build_model
from scalesearch.search.training.train import TrainConfig, TrainResult
from tests.conftest import TINY_OVERRIDES

CONFIG = {"family": "resnet", "model": {"width_multiplier": 0.0625, "depth_multiplier": 0.5, "block": "basic"},
          "seed": 0}
MADE_UP = TrainResult(val_accuracy=0.123456, curve=[0.123456], epochs_run=1)  # what an autocast eval said


def test_on_the_cpu_the_trainers_plain_evaluation_is_the_deployed_accuracy(tiny_data):
    model = build_model(CONFIG, tiny_data)
    assert deployed_accuracy(model, MADE_UP, tiny_data, "cpu", "cpu") == MADE_UP.val_accuracy


@pytest.mark.parametrize("train_device", ["cuda", "cuda:1"])
def test_a_model_trained_on_cuda_reports_its_deployed_accuracy(tiny_data, train_device):
    spec = load_spec(None, [*TINY_OVERRIDES, "deploy.device=cpu"])
    model = build_model(CONFIG, tiny_data)  # on the CPU: deployed there, as the spec says
    metrics = deploy_trial(model, CONFIG, MADE_UP, tiny_data, spec, train_device, TrainConfig(epochs=1))
    assert metrics["accuracy"] == accuracy(model, tiny_data.val, "cpu") != MADE_UP.val_accuracy
