"""Measuring on the deploy device, and a study that searches pruning and quantization."""

from __future__ import annotations

import optuna
import pytest
import torch

from scalesearch.search.compression import deploy
from scalesearch.search.compression.measure import Latency, count_params
from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.config.system_attrs import exact_metrics, trial_config
from scalesearch.search.study.study import open_study, run_study
from scalesearch.search.training.train import TrainResult
from tests.compression_helpers import TRAIN, digits, small_knobs, trained

SPACE = {
    "name": "tiny_compress",
    "input_size": 8,
    "families": {"resnet": small_knobs("resnet"), "convnext": small_knobs("convnext")},
    "training": {"epochs": 1, "batch_size": 64, "lr": 5e-3},
    "compression": {
        "pruning_ratio": {"choices": [0.0, 0.5]},
        "finetune_epochs": 1,
        "quantization": {"choices": ["none", "int8_dynamic", "int8_static"]},
    },
}


def spec(**extra):
    data = {"study_name": "t", "space": SPACE, "device": "cpu", "threads": 1,
            "objectives": ["accuracy", "latency_ms", "size_mb"],
            "measure": {"latency_warmup": 1, "latency_repeats": 3, "latency_batch_size": 8},
            "deploy": {"device": "cpu", "threads": 1}}
    return spec_from_data(data | extra)


def test_an_uncompressed_model_is_measured_as_trained() -> None:
    model = trained("resnet")
    result = TrainResult(0.75, [0.75], 1, 1.0)
    metrics = deploy.deploy_trial(model, {"family": "resnet"}, result, digits(), spec(), "cpu", TRAIN)
    assert metrics["accuracy"] == 0.75 and metrics["params"] == count_params(model)
    assert metrics["nonzero_params"] <= metrics["params"] and metrics["deploy_device"] == "cpu"
    assert metrics["latency_batch_size"] == 8 and metrics["latency_ms"] > 0
    assert not any(k.endswith("_uncompressed") for k in metrics)


def test_a_compressed_model_records_before_and_after(monkeypatch) -> None:
    model = trained("convnext")
    config = {"family": "convnext", "compression": {"pruning_ratio": 0.5, "quantization": "int8_static"}}
    m = deploy.deploy_trial(model, config, TrainResult(0.9, [0.9], 1, 1.0), digits(), spec(), "cpu", TRAIN)
    assert m["params"] < 0.5 * m["params_uncompressed"] and m["flops"] < m["flops_uncompressed"]
    assert m["size_mb"] < 0.5 * m["size_mb_uncompressed"]
    assert m["accuracy_uncompressed"] == 0.9 and 0 <= m["accuracy"] <= 1
    assert {"accuracy_before_finetune", "accuracy_after_finetune", "quantization_agreement",
            "latency_ms_uncompressed"} <= set(m)
    assert m["quantization"] == "int8_static"


def test_latency_is_measured_at_the_deploy_batch_size_with_the_deploy_threads(monkeypatch) -> None:
    seen = []

    def fake_latency(model, shape, device, *, batch_size, warmup, repeats, seconds):
        seen.append((batch_size, torch.get_num_threads()))
        return Latency(1.0, float(batch_size), batch_size, device)

    monkeypatch.setattr(deploy, "measure_latency", fake_latency)
    threads = torch.get_num_threads()
    s = spec(deploy={"device": "cpu", "batch_size": 4, "threads": 3})
    out = deploy.latency_metrics(trained("resnet"), (1, 8, 8), "cpu", s)
    assert out == {"latency_ms": 4.0, "latency_ms_batch": 8.0, "latency_batch_size": 8, "latency_contended": False}
    assert seen == [(8, 3), (4, 3)]
    assert torch.get_num_threads() == threads


def test_uncompressed_params_cover_only_searched_knobs_that_can_be_off() -> None:
    from scalesearch.search.compression.compress import uncompressed_params
    from scalesearch.spaces.space import Choice, Fixed, FloatRange

    knobs = {"pruning_ratio": FloatRange(0.0, 0.5), "sparsity": Choice((0.2, 0.5)),
             "quantization": Choice(("none", "int8_static")), "finetune_epochs": Fixed(2)}
    assert uncompressed_params(knobs) == {"pruning_ratio": 0.0, "quantization": "none"}
    assert uncompressed_params({"quantization": Fixed("int8_static")}) == {}
    assert uncompressed_params({}) == {}


def test_a_study_with_pruning_and_quantization_in_its_space_completes(tmp_path) -> None:
    s = spec(budget={"n_trials": 5}, sampler={"name": "random", "seed": 0})
    study, s = open_study(s, f"sqlite:///{tmp_path}/s.db")  # enqueues an uncompressed trial per family
    wanted = [{"family": "resnet", "pruning_ratio": 0.0, "quantization": "none"},
              {"family": "convnext", "pruning_ratio": 0.5, "quantization": "int8_static"},
              {"family": "resnet", "pruning_ratio": 0.5, "quantization": "int8_dynamic"}]
    for params in wanted:
        study.enqueue_trial(params)
    summary = run_study(study, s, data=digits())
    assert summary.finished == 5 and summary.failed_this_run == 0
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) == 5
    for baseline, family in zip(trials[:2], ("resnet", "convnext"), strict=True):  # per-family baselines
        assert baseline.params["family"] == family
        assert trial_config(baseline)["compression"] == {"pruning_ratio": 0.0, "quantization": "none"}

    def find(params: dict) -> optuna.trial.FrozenTrial:
        return next(t for t in trials if all(t.params.get(k) == v for k, v in params.items()))

    plain, pruned_static, pruned_dynamic = (find(p) for p in wanted)
    assert "ss.params_uncompressed" not in plain.user_attrs
    for t in (pruned_static, pruned_dynamic):
        a = t.user_attrs
        assert a["ss.params"] < a["ss.params_uncompressed"]
        assert a["ss.size_mb"] < a["ss.size_mb_uncompressed"]
        exact = exact_metrics(t)  # the user attrs are the same metrics rounded for people
        assert t.values == [exact["accuracy"], exact["latency_ms"], exact["size_mb"]]
        assert a["ss.latency_ms"] == pytest.approx(exact["latency_ms"], rel=1e-3)
    assert pruned_static.user_attrs["ss.quantization"] == "int8_static"
    assert study.best_trials


def test_an_uncompressed_trial_reuses_the_costs_counted_before_training(monkeypatch) -> None:
    """Params, FLOPs and size depend on the architecture: the objective counted them before
    training (``planned``), so deploy does not trace the model again; a compressed trial does."""
    model = trained("resnet")
    calls = []
    monkeypatch.setattr(deploy, "count_flops", lambda m, shape: calls.append(shape) or 123)
    planned = {"params": count_params(model), "flops": 77, "size_bytes": 4000, "size_mb": 0.004}
    m = deploy.deploy_trial(model, {"family": "resnet"}, TrainResult(0.8, [0.8], 1, 1.0), digits(), spec(), "cpu",
                            TRAIN, planned=planned)
    assert (m["flops"], m["size_mb"], calls) == (77, 0.004, [])
    config = {"family": "resnet", "compression": {"pruning_ratio": 0.5, "quantization": "none"}}
    m = deploy.deploy_trial(trained("resnet"), config, TrainResult(0.8, [0.8], 1, 1.0), digits(), spec(), "cpu",
                            TRAIN, planned=planned)
    assert len(calls) == 2 and m["flops"] == 123  # before and after pruning, both counted
