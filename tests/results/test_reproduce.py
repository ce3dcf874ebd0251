"""A trial's deployed model is rebuilt from its stored config and saved; reloaded, it scores
exactly what the trial recorded."""

from __future__ import annotations

import pytest

import scalesearch
from scalesearch.errors import ExportError
from scalesearch.search.compression import artifact
from scalesearch.search.compression.compress import predictions
from scalesearch.search.compression.measure import count_params
from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.config.system_attrs import exact_metrics, trial_config
from scalesearch.search.results.reproduce import export_trial
from scalesearch.search.study.study import open_study, run_study
from tests.compression_helpers import digits, small_knobs

SPEC = {
    "study_name": "r", "device": "cpu", "threads": 1,
    "objectives": ["accuracy", "size_mb"],
    "measure": {"latency_warmup": 1, "latency_repeats": 2, "latency_batch_size": 4},
    "budget": {"n_trials": 2},
    "space": {
        "name": "tiny", "input_size": 8,
        "families": {"resnet": small_knobs("resnet")},
        "training": {"epochs": 2, "batch_size": 64, "lr": 5e-3},
        "compression": {"pruning_ratio": {"choices": [0.0, 0.4]}, "sparsity": {"choices": [0.0, 0.3]},
                        "finetune_epochs": 1, "quantization": {"choices": ["none", "int8_static"]}},
    },
}


def test_exported_trial_reloads_with_the_recorded_accuracy_and_params(tmp_path) -> None:
    study, spec = open_study(spec_from_data(SPEC), f"sqlite:///{tmp_path}/r.db")  # + a baseline trial
    study.enqueue_trial({"pruning_ratio": 0.4, "sparsity": 0.3, "quantization": "int8_static"})
    run_study(study, spec, data=digits())
    for trial in study.trials:
        path = export_trial(study, trial.number, tmp_path / f"t{trial.number}", data=digits())
        model, manifest = artifact.load(path)
        assert {p.name for p in path.iterdir()} >= {"model.yaml", "model.safetensors", "model.onnx"}  # as train
        loaded = scalesearch.load_model(path)  # the one format load_model, predict and train read
        assert (predictions(loaded, digits().val, "cpu") == predictions(model, digits().val, "cpu")).all()
        accuracy = (predictions(model, digits().val, "cpu") == digits().val.y).float().mean().item()
        assert accuracy == pytest.approx(exact_metrics(trial)["accuracy"], abs=1e-6)  # not the rounded attr
        for knob, value in trial_config(trial)["compression"].items():
            assert manifest["compression"][knob] == value
    baseline, compressed = study.trials
    assert baseline.params == {"pruning_ratio": 0.0, "sparsity": 0.0, "quantization": "none"}
    float_model, _ = artifact.load(tmp_path / "t0")
    assert count_params(float_model) == baseline.user_attrs["ss.params"]
    assert compressed.user_attrs["ss.params"] < baseline.user_attrs["ss.params"]
    with pytest.raises(ExportError, match="trial 7"):
        export_trial(study, 7, tmp_path / "none", data=digits())
