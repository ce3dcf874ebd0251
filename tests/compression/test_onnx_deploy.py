"""``deploy: {runtime: onnxruntime}``: a trial's deployed model is measured as the exported ONNX
model on onnxruntime (accuracy, file size, latency), compressed or not; the section is checked."""

from __future__ import annotations

import pytest

from scalesearch.errors import SpecError
from scalesearch.search.compression import deploy
from scalesearch.search.compression.compress import accuracy
from scalesearch.search.compression.deploy_spec import DeploySpec, validate_deploy
from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.training.train import TrainResult
from scalesearch.spaces.space import Fixed
from tests.compression_helpers import TRAIN, digits, small_knobs, trained

SPACE = {
    "name": "tiny_onnx", "input_size": 8,
    "families": {"resnet": small_knobs("resnet")},
    "training": {"epochs": 1, "batch_size": 64, "lr": 5e-3},
    "compression": {"pruning_ratio": {"choices": [0.0, 0.3]}, "finetune_epochs": 1,
                    "quantization": {"choices": ["none", "int8_static"]}},
}


def spec(**deploy_section):
    return spec_from_data({
        "study_name": "o", "space": SPACE, "device": "cpu", "threads": 1,
        "objectives": ["accuracy", "latency_ms", "size_mb"],
        "measure": {"latency_warmup": 1, "latency_repeats": 3, "latency_batch_size": 8},
        "deploy": {"device": "cpu", "threads": 1, "calibration_samples": 128} | deploy_section})


def test_the_onnxruntime_runtime_measures_the_exported_model_before_and_after_compression() -> None:
    model = trained("resnet")
    float_accuracy = accuracy(model, digits().val, "cpu")
    config = {"family": "resnet", "compression": {"pruning_ratio": 0.3, "finetune_epochs": 1,
                                                  "quantization": "int8_static"}}
    fake = TrainResult(0.123, [0.123], 1, 1.0)  # onnxruntime's own accuracy must replace it
    m = deploy.deploy_trial(model, config, fake, digits(), spec(runtime="onnxruntime"), "cpu", TRAIN)
    assert m["deploy_runtime"] == "onnxruntime" and m["quantization"] == "int8_static"
    assert m["latency_contended"] is False  # measured with the device to itself (no other worker)
    assert m["accuracy_uncompressed"] == pytest.approx(float_accuracy)  # float32 ONNX == torch
    assert 0.1 < m["accuracy"] <= 1 and m["accuracy"] != 0.123
    assert m["size_bytes"] > 1000 and m["size_mb"] == m["size_bytes"] / 1e6  # the .onnx file's bytes
    assert m["latency_ms"] > 0 and m["latency_ms_uncompressed"] > 0 and m["latency_batch_size"] == 8
    assert m["params"] < m["params_uncompressed"]  # pruned, counted on the float model as for torch


def test_the_torch_runtime_is_the_default_and_stays_as_it_was() -> None:
    assert spec().deploy.runtime == "torch"
    m = deploy.deploy_trial(trained("resnet"), {"family": "resnet"}, TrainResult(0.5, [0.5], 1, 1.0),
                            digits(), spec(), "cpu", TRAIN)
    assert "deploy_runtime" not in m and m["accuracy"] == 0.5


@pytest.mark.parametrize("section,quantization,message", [
    ({"runtime": "tflite"}, "none", "deploy.runtime: 'tflite' is not one of torch, onnxruntime"),
    ({"runtime": "onnxruntime", "device": "cuda"}, "fp16", "'fp16' has no ONNX counterpart"),
    ({"runtime": "onnxruntime", "device": "cuda"}, "none", "needs onnxruntime's CUDA execution provider"),
])
def test_a_deploy_section_onnxruntime_cannot_serve_is_refused(section, quantization, message) -> None:
    import onnxruntime

    knobs = {"quantization": Fixed(quantization)}
    if "CUDA" in message and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        validate_deploy(DeploySpec(**section), "cpu", knobs)  # onnxruntime-gpu: nothing to refuse
        return
    with pytest.raises(SpecError, match=message):
        validate_deploy(DeploySpec(**section), "cpu", knobs)
