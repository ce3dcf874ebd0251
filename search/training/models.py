"""A fresh model for a sampled config: the family registry's builder, seeded, errors typed."""

from __future__ import annotations

from typing import Any

from scalesearch.errors import ModelBuildError
from scalesearch.search.datasets import Dataset
from scalesearch.spaces.registry import ModelInput, get_family


def build_model(config: dict[str, Any], data: Dataset) -> Any:
    """A fresh model for a sampled ``config``, seeded by ``config["seed"]``."""
    import torch

    torch.manual_seed(config["seed"])
    family = get_family(config["family"])
    io = ModelInput(data.num_classes, data.in_chans, data.input_size)
    try:
        return family.build(io, **config["model"])
    except Exception as e:
        raise ModelBuildError(f"{config['family']} could not build {config['model']}: {e}") from e
