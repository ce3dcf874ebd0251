"""The catalog behind ``scalesearch spaces``, and the shipped space presets."""

from __future__ import annotations

import json

import pytest
import torch

from scalesearch.spaces.catalog import (
    corner,
    count_params,
    describe_families,
    describe_presets,
    knob_bounds,
)
from scalesearch.spaces.registry import ModelInput, get_family, list_families
from scalesearch.spaces.space import list_presets, load_space, param_values

PRESETS = list_presets()


def test_describe_families_lists_every_family_with_its_size_range():
    described = describe_families(input_size=8, num_classes=10, in_chans=1)
    json.dumps(described)  # the CLI prints it as JSON
    assert [d["name"] for d in described] == list_families()
    for d in described:
        family = get_family(d["name"])
        assert d["description"] == family.description
        assert d["knobs"] == family.knobs
        assert 0 < d["smallest"]["params"] < d["largest"]["params"]
        smallest = {k: v for k, v in d["smallest"].items() if k != "params"}
        io = ModelInput(num_classes=10, in_chans=1, input_size=8)
        assert d["smallest"]["params"] == count_params(family, io, **smallest)
        for knob in ("width_multiplier", "depth_multiplier"):
            low, high = knob_bounds(family.knobs[knob])
            assert (d["smallest"][knob], d["largest"][knob]) == (low, high)


@pytest.mark.parametrize("name", list_families())
def test_count_params_on_meta_device_matches_a_real_build(name):
    family = get_family(name)
    io = ModelInput(num_classes=10, in_chans=1, input_size=8)
    point = corner(family, "low", "low")
    real = family.build(io, **point)
    assert count_params(family, io, **point) == sum(p.numel() for p in real.parameters())


def test_describe_presets_states_input_size_and_families():
    described = describe_presets()
    json.dumps(described)
    assert [d["name"] for d in described] == PRESETS
    for d in described:
        assert isinstance(d["input_size"], int) and d["input_size"] > 0
        assert d["description"]
        assert set(d["families"]) <= set(list_families())


def test_presets_include_the_required_ones():
    assert {"small_cnn", "mobile", "vit", "all_families"} <= set(PRESETS)


def test_all_families_preset_covers_every_registered_family():
    assert set(load_space("all_families").families) == set(list_families())


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_parses_and_its_extremes_train(preset):
    """Each preset loads, and for each of its families the smallest and largest width x depth
    it allows runs forward and backward at the input size the preset was made for."""
    space = load_space(preset)
    assert space.name == preset and space.input_size
    size = space.input_size
    for name, knobs in space.families.items():
        io = ModelInput(num_classes=10, in_chans=1, input_size=size)
        for pick in (min, max):
            point = {k: pick(param_values(p)) for k, p in knobs.items() if k in ("width_multiplier", "depth_multiplier")}
            model = get_family(name).build(io, **point).train()
            out = model(torch.randn(2, 1, size, size))
            assert out.shape == (2, 10)
            out.sum().backward()
