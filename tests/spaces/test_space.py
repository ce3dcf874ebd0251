"""Search spaces: data in, Optuna suggestions out; conditional knobs per family."""

from __future__ import annotations

import optuna
import pytest

from scalesearch.errors import SpecError
from scalesearch.spaces.space import (
    Choice,
    FloatRange,
    IntRange,
    list_presets,
    load_space,
    param_to_data,
    parse_param,
    parse_space,
    suggest,
)

SPACE = {
    "name": "t",
    "families": {
        "resnet": {"width_multiplier": {"low": 0.0625, "high": 0.5, "log": True},
                   "depth_multiplier": {"choices": [0.5, 1.0]}, "block": "basic"},
        "convnext": {"width_multiplier": {"low": 0.25, "high": 0.5}},
    },
    "training": {"lr": {"low": 1e-4, "high": 1e-2, "log": True}, "epochs": {"low": 2, "high": 6, "type": "int"},
                 "batch_size": {"choices": [32]}},
}


@pytest.mark.parametrize("data", [
    3, "basic", {"choices": [1, 2]}, {"low": 0.1, "high": 1.0, "log": True},
    {"low": 1, "high": 9, "type": "int", "step": 2}, {"low": 0.0, "high": 1.0, "step": 0.25},
])
def test_params_round_trip_through_data(data):
    param = parse_param(data, "x")
    assert parse_param(param_to_data(param), "x") == param


def test_int_and_float_ranges_are_distinct():
    assert isinstance(parse_param({"low": 1, "high": 3, "type": "int"}, "x"), IntRange)
    assert isinstance(parse_param({"low": 0, "high": 1}, "x"), FloatRange)  # floats unless type: int
    assert isinstance(parse_param({"choices": ["a"]}, "x"), Choice)


def test_suggest_names_family_knobs_conditionally_and_keeps_fixed_values():
    space = parse_space(SPACE)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen = set()
    for _ in range(12):
        trial = study.ask()
        config = suggest(trial, space)
        family = config["family"]
        seen.add(family)
        assert all(name == "family" or name.startswith(f"{family}.") or "." not in name for name in trial.params)
        assert 0.0625 <= config["model"]["width_multiplier"] <= 0.5
        assert 2 <= config["training"]["epochs"] <= 6
        assert config["training"]["batch_size"] == 32 and "batch_size" not in trial.params  # one choice: fixed
        if family == "resnet":
            assert config["model"]["block"] == "basic" and "resnet.block" not in trial.params
        study.tell(trial, 0.0)
    assert seen == {"resnet", "convnext"}


def test_single_family_space_does_not_suggest_family():
    space = parse_space({"families": {"resnet": {}}})
    trial = optuna.create_study().ask()
    assert suggest(trial, space)["family"] == "resnet" and "family" not in trial.params


def test_to_data_round_trips():
    space = parse_space(SPACE)
    assert parse_space(space.to_data()) == space


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_loads_and_states_its_input_size(name):
    space = load_space(name)
    assert space.input_size and space.families


def test_log_range_needs_positive_low():
    with pytest.raises(SpecError, match="log range needs low > 0"):
        parse_param({"low": 0.0, "high": 1.0, "log": True}, "x")


def test_augment_and_ema_are_training_knobs_within_their_ranges():
    space = parse_space({"families": {"resnet": {}},
                         "training": {"augment": {"low": 0.0, "high": 0.6}, "ema": 0.99, "epochs": 20}})
    config = suggest(optuna.trial.FixedTrial({"augment": 0.3}), space)
    assert config["training"] == {"augment": 0.3, "ema": 0.99, "epochs": 20}
    for knob, bad in (("augment", {"low": 0.0, "high": 1.5}), ("augment", -0.1), ("ema", 1.0)):
        with pytest.raises(SpecError, match=rf"space\.training\.{knob}: .* is outside its range"):
            parse_space({"families": {"resnet": {}}, "training": {knob: bad}})
