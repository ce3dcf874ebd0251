"""The ``compression:`` section of a search space and the ``deploy:`` section of a study spec."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from scalesearch.errors import SpecError
from scalesearch.search.compression.deploy_spec import DeploySpec
from scalesearch.search.config.spec import load_spec, spec_from_data, spec_to_data
from scalesearch.spaces.space import Fixed, parse_space, suggest

FAMILIES = {"resnet": {"width_multiplier": 0.0625, "depth_multiplier": 0.5}}
COMPRESSION = {
    "pruning_ratio": {"choices": [0.0, 0.3]},
    "pruning_allocation": {"choices": ["global", "uniform"]},
    "pruning_profile": [0.5, 1.5],
    "finetune_epochs": {"low": 0, "high": 2, "type": "int"},
    "sparsity": 0.0,
    "quantization": {"choices": ["none", "int8_static"]},
}
STUDIES = Path(__file__).resolve().parents[2] / "studies"


def space(compression: dict | None = COMPRESSION) -> dict:
    data = {"name": "t", "families": FAMILIES, "training": {"epochs": 1}}
    return data | ({"compression": compression} if compression is not None else {})


def test_compression_section_parses_and_round_trips() -> None:
    s = parse_space(space())
    assert s.compression["pruning_profile"] == Fixed((0.5, 1.5))
    assert parse_space(s.to_data()) == s
    assert s.to_data()["compression"]["pruning_profile"] == [0.5, 1.5]


def test_a_space_without_compression_samples_configs_as_before() -> None:
    s = parse_space(space(None))
    assert "compression" not in s.to_data()
    config = suggest(optuna.trial.FixedTrial({}), s)
    assert set(config) == {"family", "model", "training"}


def test_knobs_that_cannot_matter_are_not_sampled() -> None:
    s = parse_space(space())
    off = suggest(optuna.trial.FixedTrial({"pruning_ratio": 0.0, "quantization": "int8_static"}), s)
    assert off["compression"] == {"pruning_ratio": 0.0, "sparsity": 0.0, "quantization": "int8_static"}
    on = suggest(optuna.trial.FixedTrial({"pruning_ratio": 0.3, "quantization": "none",
                                          "pruning_allocation": "uniform", "finetune_epochs": 2}), s)
    assert on["compression"] == {"pruning_ratio": 0.3, "sparsity": 0.0, "quantization": "none",
                                 "pruning_allocation": "uniform", "pruning_profile": (0.5, 1.5),
                                 "finetune_epochs": 2}


@pytest.mark.parametrize(("compression", "message"), [
    ({"pruning": 0.3}, "unknown compression knob"),
    ({"pruning_profile": ["a"]}, "holds numbers"),
    ({"pruning_ratio": {"low": 0.5, "high": 0.1}}, "swap them"),
    ([0.3], "expected a mapping"),
])
def test_malformed_sections_are_refused(compression, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_space(space(compression))


def spec_data(**extra) -> dict:
    return {"space": space(), "device": "cpu"} | extra


def test_deploy_section_defaults_and_round_trip() -> None:
    spec = spec_from_data(spec_data(deploy={"device": "cpu", "threads": 1}))
    assert spec.deploy == DeploySpec(device="cpu", batch_size=1, threads=1)
    assert spec_from_data(spec_to_data(spec)) == spec
    assert spec_from_data(spec_data()).deploy.device == "same"


@pytest.mark.parametrize(("data", "message"), [
    ({"deploy": {"device": "tpu"}}, "deploy.device"),
    ({"deploy": {"batch_size": 0}}, "deploy.batch_size"),
    ({"deploy": {"threads": -1}}, "deploy.threads"),
    ({"space": space(COMPRESSION | {"quantization": {"choices": ["none", "fp16"]}})}, "runs on cuda"),
    ({"space": space(COMPRESSION | {"quantization": "bf16"}), "device": "cuda", "deploy": {"device": "cpu"}},
     "runs on cuda"),
    ({"space": space(COMPRESSION | {"quantization": "int8_dynamic"}), "deploy": {"device": "cuda"}}, "runs on cpu"),
    ({"space": space(COMPRESSION | {"pruning_ratio": 0.95})}, "outside"),
])
def test_spec_refuses_impossible_deployments(data: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        spec_from_data(spec_data(**data))


def test_auto_device_defers_the_quantizer_check_to_run_time() -> None:
    from scalesearch.search.compression.deploy import check_deploy

    spec = spec_from_data(spec_data(device="auto", space=space(COMPRESSION | {"quantization": "fp16"})))
    with pytest.raises(SpecError, match="runs on cuda"):
        check_deploy(spec, "cpu")


def test_a_deploy_device_that_is_not_there_is_named_as_such(monkeypatch) -> None:
    import torch

    from scalesearch.search.compression.deploy import resolve_deploy_device

    assert resolve_deploy_device("same", "cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SpecError, match="^deploy.device: 'cuda'"):
        resolve_deploy_device("cuda", "cpu")


def test_the_compression_study_spec_loads() -> None:
    spec = load_spec(STUDIES / "digits_compress.yaml", ["deploy.threads=2"])
    assert spec.objectives == ("accuracy", "latency_ms", "size_mb")
    assert spec.deploy.device == "cpu" and spec.deploy.batch_size == 1 and spec.deploy.threads == 2
    assert {"pruning_ratio", "quantization"} <= set(spec.space.compression)
