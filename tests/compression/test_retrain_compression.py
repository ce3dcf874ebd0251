"""export -> retrain -> load_model keeps a trial's compression: the retrained model is pruned and
quantized like the trial, its test accuracy is the compressed model's, and it reloads exactly."""

from __future__ import annotations

import pytest
import torch
import yaml

from scalesearch.errors import SpecError
from scalesearch.search.compression.compress import accuracy
from scalesearch.search.compression.measure import count_params
from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.results.export import export_data
from scalesearch.search.results.retrain import load_model, read_export, retrain
from scalesearch.search.study.study import open_study, run_study
from tests.compression_helpers import digits, small_knobs

SPEC = {
    "study_name": "rc", "device": "cpu", "threads": 1,
    "objectives": ["accuracy", "size_mb"],
    "measure": {"latency_warmup": 1, "latency_repeats": 2, "latency_batch_size": 4},
    "budget": {"n_trials": 1},
    "deploy": {"device": "cpu"},
    "space": {
        "name": "tiny", "input_size": 8,
        "families": {"resnet": small_knobs("resnet")},
        "training": {"epochs": 1, "batch_size": 64, "lr": 5e-3},
        "compression": {"pruning_ratio": 0.4, "finetune_epochs": 1, "quantization": "int8_static"},
    },
}


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("rc")
    storage = f"sqlite:///{tmp / 's.db'}"
    study, spec = open_study(spec_from_data(SPEC), storage)
    run_study(study, spec, data=digits())
    path = tmp / "best.yaml"
    path.write_text(yaml.safe_dump(export_data(study, spec, study.trials[0], storage_url=storage)))
    return read_export(path)


def test_retrained_model_is_compressed_and_reloads_exactly(export, tmp_path) -> None:
    assert export["compression"]["quantization"] == "int8_static" and export["deploy"]["device"] == "cpu"
    result = retrain(export, tmp_path / "m", device="cpu", threads=1, epochs=1)
    card = yaml.safe_load((tmp_path / "m" / "model.yaml").read_text())
    assert card["pruning_history"] and "test_accuracy_uncompressed" in card["retrain"]
    assert result.test_accuracy == card["retrain"]["test_accuracy"]
    # each step's effect, in order (SPEC: 40 % of channels pruned, 1 fine-tuning epoch, int8)
    trained, pruned, tuned, quantized = result.steps
    assert trained.startswith("trained 1 epochs on train (") and card["retrain"]["steps"] == result.steps
    assert pruned.startswith("pruned 40% of channels: test 0.") and tuned.startswith("fine-tuned 1 epochs: test 0.")
    assert quantized == f"quantized int8_static: test {result.test_accuracy:.4f}"
    model = load_model(tmp_path / "m")
    assert "quantized" in type(model.fc).__module__  # int8 modules, rebuilt without unpickling
    test = digits().test
    assert accuracy(model, test, "cpu") == pytest.approx(result.test_accuracy, abs=1e-6)
    again = load_model(tmp_path / "m")
    x = test.x[:16]
    assert torch.equal(model(x), again(x))


def test_a_retrain_without_compression_is_unchanged(export, tmp_path) -> None:
    plain = {k: v for k, v in export.items() if k not in ("compression", "deploy")}
    retrain(plain, tmp_path / "p", device="cpu", threads=1, epochs=1)
    card = yaml.safe_load((tmp_path / "p" / "model.yaml").read_text())
    assert "pruning_history" not in card
    model = load_model(tmp_path / "p")
    assert count_params(model) > 0 and model(digits().test.x[:2]).shape == (2, 10)


def test_an_export_whose_quantizer_cannot_run_on_its_deploy_device_is_refused(export, tmp_path) -> None:
    bad = export | {"compression": {"quantization": "fp16"}, "deploy": {"device": "cpu"}}
    with pytest.raises(SpecError, match="runs on cuda"):
        retrain(bad, tmp_path / "b", device="cpu", threads=1, epochs=1)


def test_compression_steps_name_what_each_step_did_to_the_test_accuracy() -> None:
    """``train``'s step lines after "trained": pruning (channels and zeroed weights), fine-tuning, int8."""
    from scalesearch.search.results.retrain import compression_steps

    export = {"compression": {"pruning_ratio": 0.25, "sparsity": 0.5, "finetune_epochs": 2,
                              "quantization": "int8_dynamic"}}
    record = {"accuracy_after_pruning": 0.41, "accuracy_before_finetune": 0.61, "accuracy_after_finetune": 0.93,
              "finetune_epochs": 2}
    assert compression_steps(export, record, 0.925) == [
        "pruned 25% of channels and 50% of weights zeroed: test 0.6100", "fine-tuned 2 epochs: test 0.9300",
        "quantized int8_dynamic: test 0.9250"]
    untuned = {"accuracy_after_pruning": 0.8, "accuracy_before_finetune": 0.8, "accuracy_after_finetune": 0.8}
    assert compression_steps({"compression": {"pruning_ratio": 0.5}}, untuned, 0.8) == [
        "pruned 50% of channels: test 0.8000"]
    assert compression_steps({}, {}, 0.9) == []
