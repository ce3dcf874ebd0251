"""Contracts every registered model family keeps; a new family gets them all for free.

- the corners of its width x depth range build, run forward and backward at 16 and 32 px with 1
  and 3 channels (and at 8 px, 1 channel: digits), with the right output shape;
- parameters grow strictly with width and with depth;
- every point of its range builds (a grid, on torch's meta device), every choice knob builds;
- its knobs are valid search-space data that its builder accepts.

Below those: the traps the families map away (RegNet stage counts, ViT heads and patches,
stride plans for small inputs) and the pins on timm internals (``_timm_blocks``).
"""

from __future__ import annotations

import inspect
import itertools

import pytest
import torch

from scalesearch.spaces.catalog import corner, count_params, knob_bounds
from scalesearch.spaces.families import _timm_blocks
from scalesearch.spaces.families.efficientnet import ARCH_DEF as EFFICIENTNET_ARCH
from scalesearch.spaces.families.regnet import regnet_arch
from scalesearch.spaces.families.vit import vit_arch
from scalesearch.spaces.registry import ModelInput, get_family, list_families, register_family
from scalesearch.spaces.space import parse_param

NUM_CLASSES = 10
FAMILIES = list_families()
CORNERS = [("low", "low"), ("low", "high"), ("high", "low"), ("high", "high")]
SCALE_KNOBS = ("width_multiplier", "depth_multiplier")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: one thread is faster, and on a shared CPU several spin-wait for each other
    (5x slower here). The models do not depend on it; the setting is restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(name: str, size: int, chans: int, **params):
    torch.manual_seed(0)
    return get_family(name).build(ModelInput(NUM_CLASSES, chans, size), **params)


def forward_backward(model, chans: int, size: int) -> None:
    model.train()
    out = model(torch.randn(2, chans, size, size))
    assert out.shape == (2, NUM_CLASSES)
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 1])).backward()
    unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not unused, f"parameters that get no gradient: {unused[:5]}"


def params(name: str, size: int = 32, **point) -> int:
    return count_params(get_family(name), ModelInput(NUM_CLASSES, 3, size), **point)


# --------------------------------------------------------------------------- contracts


@pytest.mark.parametrize("chans", [1, 3])
@pytest.mark.parametrize("size", [16, 32])
@pytest.mark.parametrize("width,depth", CORNERS)
@pytest.mark.parametrize("name", FAMILIES)
def test_corner_builds_and_trains(name, width, depth, size, chans):
    point = corner(get_family(name), width, depth)
    forward_backward(build(name, size, chans, **point), chans, size)


@pytest.mark.parametrize("width,depth", CORNERS)
@pytest.mark.parametrize("name", FAMILIES)
def test_corner_builds_and_trains_on_digits(name, width, depth):
    point = corner(get_family(name), width, depth)
    forward_backward(build(name, 8, 1, **point), 1, 8)


@pytest.mark.parametrize("name", FAMILIES)
def test_params_grow_with_width_and_depth(name):
    family = get_family(name)
    smallest = params(name, **corner(family, "low", "low"))
    assert params(name, **corner(family, "high", "low")) > smallest
    assert params(name, **corner(family, "low", "high")) > smallest
    assert params(name, **corner(family, "high", "high")) > max(
        params(name, **corner(family, "high", "low")), params(name, **corner(family, "low", "high")))


def _grid(knob: dict, n: int = 3) -> list:
    low, high = knob_bounds(knob)
    return [low + (high - low) * i / (n - 1) for i in range(n)]


@pytest.mark.parametrize("size", [8, 32])
@pytest.mark.parametrize("name", FAMILIES)
def test_every_point_of_the_range_builds(name, size):
    """A width x depth grid, and every choice of every choice knob at the smallest and largest
    corner, build (construction only, on the meta device: the traps are in the constructors)."""
    family = get_family(name)
    grid = itertools.product(*(_grid(family.knobs[k]) for k in SCALE_KNOBS))
    points = [dict(zip(SCALE_KNOBS, p, strict=True)) for p in grid]
    for knob, data in family.knobs.items():
        for value, ends in itertools.product(data.get("choices", []), ("low", "high")):
            points.append(corner(family, ends, ends) | {knob: value})
    for point in points:
        assert params(name, size, **point) > 0, point


@pytest.mark.parametrize(
    "name,knob,value",
    [(n, k, c) for n in FAMILIES for k, v in get_family(n).knobs.items() if "choices" in v for c in v["choices"]],
)
def test_every_choice_trains_at_the_small_corner(name, knob, value):
    point = corner(get_family(name), "low", "low") | {knob: value}
    forward_backward(build(name, 16, 3, **point), 3, 16)


@pytest.mark.parametrize("name", FAMILIES)
def test_knobs_are_space_data_the_builder_accepts(name):
    family = get_family(name)
    signature = inspect.signature(family.builder).parameters
    for knob, data in family.knobs.items():
        bound = parse_param(data, f"{name}.{knob}")  # raises on malformed data
        assert knob in signature, f"{name} declares {knob!r} but its builder does not take it"
        default = signature[knob].default
        assert default is not inspect.Parameter.empty, f"{name}.{knob} needs a default"
        if "choices" in data:
            assert default in data["choices"]
        else:
            assert bound.low <= default <= bound.high, f"{name}.{knob} default {default} is outside its range"
    for knob in SCALE_KNOBS:
        low, high = knob_bounds(family.knobs[knob])
        assert low < high


@pytest.mark.parametrize("name", [n for n in FAMILIES if "drop_rate" in get_family(n).knobs])
def test_head_dropout_takes_effect(name):
    x = torch.randn(2, 3, 16, 16)
    point = corner(get_family(name), "low", "low")
    for rate, differs in ((0.0, False), (0.5, True)):
        model = build(name, 16, 3, drop_rate=rate, **point).train()
        assert (not torch.equal(model(x), model(x))) == differs


@pytest.mark.parametrize("name", [n for n in FAMILIES if "drop_path_rate" in get_family(n).knobs])
def test_drop_path_takes_effect(name):
    from timm.layers import DropPath

    point = corner(get_family(name), "low", "low")

    def drop_paths(rate):
        model = build(name, 16, 3, drop_path_rate=rate, **point)
        return sum(isinstance(m, DropPath) for m in model.modules())

    assert drop_paths(0.0) == 0
    assert drop_paths(knob_bounds(get_family(name).knobs["drop_path_rate"])[1]) > 0


def test_duplicate_family_name_is_an_error():
    knobs = {"width_multiplier": {"low": 0.5, "high": 1.0}, "depth_multiplier": {"low": 0.5, "high": 1.0}}
    with pytest.raises(ValueError, match="already registered"):
        register_family(FAMILIES[0], description="again", knobs=knobs)(lambda io: None)
    assert list_families() == FAMILIES


# --------------------------------------------------------------------------- mapped traps


@pytest.mark.parametrize("depth_multiplier", [0.5, 0.55, 0.6, 1.0, 1.3, 2.0])
@pytest.mark.parametrize("width_multiplier", [0.25, 0.3, 0.7, 1.0, 1.5, 2.0])
def test_regnet_maps_to_a_four_stage_config(width_multiplier, depth_multiplier):
    arch = regnet_arch(width_multiplier, depth_multiplier)
    assert arch.w0 % 8 == 0
    assert _timm_blocks.regnet_num_stages(arch.w0, arch.wa, arch.wm, arch.depth, arch.group_size) == 4


def test_regnet_moves_a_three_stage_depth_to_the_nearest_four_stage_one():
    # 0.5 x 13 -> 6 blocks, which timm's width rule packs into 3 stages (it asserts 4); 6 and 7
    # fail, 8 is the nearest depth that works.
    from timm.models.regnet import RegNet, RegNetCfg

    with pytest.raises(AssertionError):
        RegNet(RegNetCfg(w0=24, wa=36.44, wm=2.49, depth=6, group_size=8))
    assert regnet_arch(1.0, 0.5).depth == 8
    assert regnet_arch(1.0, 1.0) == regnet_arch(1.0, 1.0)  # deterministic
    assert regnet_arch(1.0, 1.0).depth == 13


def test_vit_maps_patch_size_to_the_nearest_divisor_and_width_to_a_multiple_of_heads():
    assert vit_arch(8, 1.0, 1.0, patch_size=16, num_heads=3).patch_size == 8
    assert vit_arch(12, 1.0, 1.0, patch_size=8, num_heads=3).patch_size == 6
    assert vit_arch(10, 1.0, 1.0, patch_size=4, num_heads=3).patch_size == 5
    assert vit_arch(32, 1.0, 1.0, patch_size=4, num_heads=3).patch_size == 4
    heads = get_family("vit").knobs["num_heads"]["choices"]
    for width, h in itertools.product([0.25, 0.3, 0.55, 1.0, 1.7, 2.0], heads):
        arch = vit_arch(32, width, 1.0, patch_size=4, num_heads=h)
        assert arch.embed_dim % h == 0 and arch.embed_dim % 8 == 0


@pytest.mark.parametrize("name", FAMILIES)
def test_small_inputs_keep_a_feature_map(name):
    """At 8 px the last feature map is still there (ConvNeXt's stride-4 stem would leave 0 px)."""
    model = build(name, 8, 1, **corner(get_family(name), "low", "low")).eval()
    with torch.no_grad():
        features = model.forward_features(torch.randn(2, 1, 8, 8))
    assert features.shape[0] == 2 and all(s >= 1 for s in features.shape[1:])


@pytest.mark.parametrize("size,final", [(8, 2), (16, 2), (32, 2), (64, 2), (224, 7)])
@pytest.mark.parametrize("name", ["efficientnet", "mobilenetv2", "mobilenetv3"])
def test_timm_block_families_drop_early_strides_for_small_inputs(name, size, final):
    model = build(name, size, 3, **corner(get_family(name), "low", "low")).eval()
    with torch.no_grad():
        assert model.forward_features(torch.randn(1, 3, size, size)).shape[-1] == final


# --------------------------------------------------------------------------- timm pins

TIMM_REFERENCES = [
    ("efficientnet", "efficientnet_b0", {}),
    ("efficientnet", "efficientnet_b3", {"width_multiplier": 1.2, "depth_multiplier": 1.4}),
    ("mobilenetv2", "mobilenetv2_100", {}),
    ("mobilenetv3", "mobilenetv3_large_100", {}),
    ("regnet", "regnetx_002", {}),
    ("regnet", "regnety_002", {"variant": "y"}),
    ("vit", "vit_tiny_patch16_224", {"patch_size": 16}),
    ("convnext", "convnext_atto", {}),
]


@pytest.mark.parametrize("name,reference,point", TIMM_REFERENCES, ids=[r[1] for r in TIMM_REFERENCES])
def test_reference_point_matches_timm(name, reference, point):
    """Pins the copied arch strings and the timm internals in ``_timm_blocks``: at 224 px the
    family's reference point has exactly the parameters of timm's own model (no "multiple
    values for channel_multiplier" either: B3 is width 1.2, depth 1.4)."""
    import timm

    io = ModelInput(num_classes=1000, in_chans=3, input_size=224)
    with torch.device("meta"):
        expected = sum(p.numel() for p in timm.create_model(reference).parameters())
    assert count_params(get_family(name), io, **point) == expected


def test_block_args_scale_depth_like_timm_and_drop_the_earliest_strides():
    def shape(stages):
        return [len(s) for s in stages], [s[0]["stride"] for s in stages]

    assert shape(_timm_blocks.block_args(EFFICIENTNET_ARCH, 1.0, keep_strides=4)) == (
        [1, 2, 2, 3, 3, 4, 1], [1, 2, 2, 2, 1, 2, 1])
    assert shape(_timm_blocks.block_args(EFFICIENTNET_ARCH, 0.25, keep_strides=2)) == (
        [1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 2, 1, 2, 1])
    assert shape(_timm_blocks.block_args(EFFICIENTNET_ARCH, 2.0, keep_strides=0))[0] == [2, 4, 4, 6, 6, 8, 2]
    assert _timm_blocks.num_strided_stages(EFFICIENTNET_ARCH) == 4
