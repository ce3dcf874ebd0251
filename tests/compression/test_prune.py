"""Structured pruning contract: every registered family (and a timm ViT) prunes, runs, shrinks,
keeps its classifier, and can be rebuilt by replaying the pruning history."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

from scalesearch.search.compression import prune
from scalesearch.spaces.registry import ModelInput, get_family, list_families

IO = ModelInput(num_classes=10, in_chans=1, input_size=8)


def _vit() -> torch.nn.Module:
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(img_size=8, patch_size=2, in_chans=1, num_classes=10, embed_dim=48,
                             depth=2, num_heads=3)


def small_model(name: str) -> torch.nn.Module:
    """A family's smallest corner (or a timm ViT while no ``vit`` family is registered)."""
    torch.manual_seed(0)
    if name == "timm_vit":
        return _vit().eval()
    family = get_family(name)
    knobs = {k: family.knobs[k]["low"] for k in ("width_multiplier", "depth_multiplier")}
    return family.build(IO, **knobs).eval()


MODELS = list_families() + ([] if "vit" in list_families() else ["timm_vit"])


def params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(4, IO.in_chans, IO.input_size, IO.input_size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("ratio", [0.3, 0.5])
@pytest.mark.parametrize("allocation", prune.ALLOCATIONS)
@pytest.mark.parametrize("name", MODELS)
def test_pruned_model_runs_smaller_and_keeps_classes(name: str, allocation: str, ratio: float, x: torch.Tensor) -> None:
    model = small_model(name)
    before = params(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. torch-pruning's "Unwrapped parameters detected"
        result = prune.prune(model, x[:2], ratio, allocation)
    assert params(model) < before
    out = model.eval()(x)
    assert out.shape == (4, IO.num_classes) and torch.isfinite(out).all()
    assert prune.classifier(model).out_features == IO.num_classes
    assert result.history and result.stage_ratios


@pytest.mark.parametrize("name", MODELS)
def test_replaying_history_on_a_fresh_model_reproduces_the_pruned_one(name: str, x: torch.Tensor) -> None:
    model = small_model(name)
    fresh = copy.deepcopy(model)
    result = prune.prune(model, x[:2], 0.5, "global", "later")
    prune.replay(fresh, x[:2], result.history)
    fresh.load_state_dict(model.state_dict())  # shapes match only if the replay rebuilt them
    torch.testing.assert_close(fresh.eval()(x), model.eval()(x))


def test_ratio_zero_changes_nothing(x: torch.Tensor) -> None:
    model = small_model("resnet")
    before = copy.deepcopy(model.state_dict())
    assert prune.prune(model, x[:2], 0.0).history == []
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_later_profile_prunes_late_stages_harder(x: torch.Tensor) -> None:
    flat, later = small_model("resnet"), small_model("resnet")
    prune.prune(flat, x[:2], 0.4, "uniform", "flat")
    r = prune.prune(later, x[:2], 0.4, "uniform", "later")
    assert r.stage_ratios[0] < r.stage_ratios[-1]
    assert later.conv1.out_channels > flat.conv1.out_channels  # the stem (stage 0) kept more
    assert later.layer4[-1].conv1.out_channels < flat.layer4[-1].conv1.out_channels


def test_stage_ratios_interpolate_and_cap() -> None:
    assert prune.stage_ratios(0.4, "flat", 3) == (0.4, 0.4, 0.4)
    assert prune.stage_ratios(0.4, "later", 3) == (0.2, 0.4, 0.6)
    assert prune.stage_ratios(0.4, [1.0, 0.0, 1.0], 5) == (0.4, 0.2, 0.0, 0.2, 0.4)
    assert prune.stage_ratios(0.8, [2.0], 2) == (prune.MAX_RATIO, prune.MAX_RATIO)


@pytest.mark.parametrize("bad", [{"allocation": "layerwise"}, {"profile": "steep"}, {"profile": [-1.0]},
                                 {"ratio": 0.99}])
def test_bad_arguments_are_refused(bad: dict, x: torch.Tensor) -> None:
    kwargs = {"ratio": 0.3, "allocation": "global", "profile": "flat"} | bad
    with pytest.raises(ValueError):
        prune.prune(small_model("resnet"), x[:2], **kwargs)


def test_vit_heads_stay_consistent_and_attention_temperature_is_kept(x: torch.Tensor) -> None:
    """Head dims shrink, head count stays; the fused path (which divides by sqrt of the new
    head_dim) matches the unfused path with the trained scale and no folding."""
    from timm.layers import Attention

    model = _vit().eval()
    old_head_dim = model.blocks[0].attn.head_dim
    reference = copy.deepcopy(model)
    result = prune.prune(model, x[:2], 0.5, "uniform")
    prune.replay(reference, x[:2], result.history)  # same channels removed, weights not folded
    for a, r in zip([m for m in model.modules() if isinstance(m, Attention)],
                    [m for m in reference.modules() if isinstance(m, Attention)], strict=True):
        assert a.num_heads == 3 and a.qkv.out_features == 3 * a.num_heads * a.head_dim
        assert a.head_dim < old_head_dim and a.proj.in_features == a.attn_dim
        a.fused_attn = True
        r.fused_attn, r.scale = False, old_head_dim ** -0.5
    torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-5)
    assert model.cls_token.shape[-1] == model.pos_embed.shape[-1] == model.head.in_features < 48
