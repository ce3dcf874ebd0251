"""Shared by the compression tests: the smallest model of every family (plus a timm ViT while
no ``vit`` family is registered), the digits data, and briefly trained copies."""

from __future__ import annotations

import copy
import functools

import torch

from scalesearch.search.datasets import Dataset, load_dataset
from scalesearch.search.training.train import TrainConfig, train
from scalesearch.spaces.registry import ModelInput, get_family, list_families

# Tiny models on a shared machine: one thread avoids oversubscription (10x slower otherwise).
torch.set_num_threads(1)

IO = ModelInput(num_classes=10, in_chans=1, input_size=8)
MODELS = list_families() + ([] if "vit" in list_families() else ["timm_vit"])
TRAIN = TrainConfig(epochs=8, lr=1e-2, batch_size=64, schedule="onecycle", amp=False)


def small_knobs(name: str) -> dict[str, float]:
    family = get_family(name)
    return {k: family.knobs[k]["low"] for k in ("width_multiplier", "depth_multiplier")}


def small_model(name: str) -> torch.nn.Module:
    """A family's smallest corner, seeded."""
    torch.manual_seed(0)
    if name == "timm_vit":
        from timm.models.vision_transformer import VisionTransformer

        return VisionTransformer(img_size=8, patch_size=2, in_chans=1, num_classes=10, embed_dim=48,
                                 depth=2, num_heads=3)
    return get_family(name).build(IO, **small_knobs(name))


@functools.cache
def digits() -> Dataset:
    return load_dataset("digits")


@functools.cache
def _trained(name: str) -> torch.nn.Module:
    # One thread, whatever earlier tests set: the same weights whichever tests ran before.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = small_model(name)
        train(model, digits(), TRAIN, "cpu")
    finally:
        torch.set_num_threads(threads)
    return model.eval()


def trained(name: str) -> torch.nn.Module:
    """A copy of ``name``'s smallest model after a few epochs on digits (cached per session)."""
    return copy.deepcopy(_trained(name))
