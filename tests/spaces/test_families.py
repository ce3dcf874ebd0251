"""Contracts every registered model family keeps; a new family gets them all for free.

The contract itself lives in ``spaces/contract.py`` (users run it on their own families with
``scalesearch.testing.check_family``); here it runs over every registered family, one test per
check:

- the corners of its width x depth range build, run forward and backward at 16 and 32 px with 1
  and 3 channels (and at 8 px, 1 channel: digits), with the right output shape;
- parameters grow strictly with width and with depth;
- every point of its range builds (a grid, on torch's meta device), every choice knob builds;
- its knobs are valid search-space data that its builder accepts;
- drop rates take effect (and built-in families use timm's DropPath for drop_path_rate).

Below those: the traps the families map away (RegNet stage counts, ViT heads and patches,
stride plans for small inputs) and the pins on timm internals (``_timm_blocks``).
"""

from __future__ import annotations

import itertools

import pytest
import torch

from scalesearch.errors import FamilyError
from scalesearch.spaces import contract
from scalesearch.spaces.catalog import corner, count_params, knob_bounds
from scalesearch.spaces.families import _timm_blocks
from scalesearch.spaces.families.efficientnet import ARCH_DEF as EFFICIENTNET_ARCH
from scalesearch.spaces.families.regnet import regnet_arch
from scalesearch.spaces.families.vit import vit_arch
from scalesearch.spaces.registry import ModelInput, get_family, list_families, register_family

NUM_CLASSES = contract.NUM_CLASSES
FAMILIES = list_families()


def build(name: str, size: int, chans: int, **params):
    return contract.build(name, size, chans, **params)


# --------------------------------------------------------------------------- contracts


@pytest.mark.parametrize("size,chans", contract.SHAPES)
@pytest.mark.parametrize("width,depth", contract.CORNERS)
@pytest.mark.parametrize("name", FAMILIES)
def test_corner_builds_and_trains(name, width, depth, size, chans):
    contract.check_corner(name, width, depth, size, chans)


@pytest.mark.parametrize("name", FAMILIES)
def test_params_grow_with_width_and_depth(name):
    contract.check_params_grow(name)


@pytest.mark.parametrize("size", [8, 32])
@pytest.mark.parametrize("name", FAMILIES)
def test_every_point_of_the_range_builds(name, size):
    contract.check_every_point_builds(name, size)


@pytest.mark.parametrize("name,knob,value", [(n, k, v) for n in FAMILIES for k, v in contract.choice_points(n)])
def test_every_choice_trains_at_the_small_corner(name, knob, value):
    contract.check_choice_trains(name, knob, value)


@pytest.mark.parametrize("name", FAMILIES)
def test_knobs_are_space_data_the_builder_accepts(name):
    contract.check_knobs(name)


@pytest.mark.parametrize("name", FAMILIES)
def test_drop_rates_take_effect(name):
    contract.check_drop_rates(name)


@pytest.mark.parametrize("name", [n for n in FAMILIES if "drop_path_rate" in get_family(n).knobs])
def test_built_in_drop_path_is_timm_droppath(name):
    from timm.layers import DropPath

    point = corner(get_family(name), "low", "low")

    def drop_paths(rate):
        model = build(name, 16, 3, drop_path_rate=rate, **point)
        return sum(isinstance(m, DropPath) for m in model.modules())

    assert drop_paths(0.0) == 0
    assert drop_paths(knob_bounds(get_family(name).knobs["drop_path_rate"])[1]) > 0


def test_contract_covers_every_check_above():
    """check_family runs the same checks as the tests above, nothing fewer."""
    names = [d for d, _ in contract.contract("resnet")]
    assert len(names) == 1 + len(contract.CORNERS) * len(contract.SHAPES) + 1 + 2 + len(contract.choice_points("resnet")) + 1


def test_duplicate_family_name_is_an_error():
    knobs = {"width_multiplier": {"low": 0.5, "high": 1.0}, "depth_multiplier": {"low": 0.5, "high": 1.0}}
    with pytest.raises(FamilyError, match="is built in; register yours under another name"):
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


@pytest.mark.parametrize("size,final", [(8, 2), (12, 3), (16, 2), (32, 4), (64, 8), (224, 7)])
@pytest.mark.parametrize("block", ["basic", "bottleneck"])
def test_resnet_keeps_its_last_map_at_2_px_or_more(block, size, final):
    """Below 16 px the earliest stage strides go (8 px: stages at 8, 8, 4, 2, not 8, 4, 2, 1,
    where a 3x3 conv on 1x1 reads only its centre tap); the parameters stay the same."""
    model = build("resnet", size, 1, width_multiplier=0.0625, depth_multiplier=0.5, block=block).eval()
    with torch.no_grad():
        assert model.forward_features(torch.randn(1, 1, size, size)).shape[-1] == final
    if size <= 64:  # same stem at every small size: only strides differ, no weight
        at_16 = build("resnet", 16, 1, width_multiplier=0.0625, depth_multiplier=0.5, block=block)
        assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in at_16.parameters())


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
