"""The model-family registry: ``@register_family`` + ``get_family`` + ``list_families``.

Adding a family is a one-file change in ``spaces/families/``: define a builder and register it.
A builder maps ``width_multiplier`` and ``depth_multiplier`` (plus family-specific options) to a
model trained from scratch; it must accept every point of the family's ``knobs`` ranges, mapping
a point it cannot build to the nearest valid one instead of raising.

This module imports neither torch nor timm; builders import them when called.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scalesearch.errors import UnknownNameError


@dataclass(frozen=True)
class ModelInput:
    """What a model must accept and produce."""

    num_classes: int
    in_chans: int
    input_size: int


@dataclass(frozen=True)
class Family:
    """A registered model family.

    ``knobs`` is the family's own full range, as search-space data (the same shape a space file
    uses): ``{"width_multiplier": {"low": .., "high": ..}, "block": {"choices": [..]}, ...}``.
    Spaces narrow these ranges; contract tests build the corners.
    """

    name: str
    builder: Callable[..., Any]
    description: str
    knobs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def build(self, io: ModelInput, **params: Any) -> Any:
        """Build a fresh, randomly initialised ``torch.nn.Module`` for ``io``."""
        return self.builder(io, **params)


_FAMILIES: dict[str, Family] = {}


def register_family(
    name: str, *, description: str, knobs: dict[str, dict[str, Any]]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``builder(io: ModelInput, **params) -> nn.Module`` under ``name``.

    Example::

        @register_family("resnet", description="...", knobs={"width_multiplier": {...}})
        def build_resnet(io, width_multiplier=1.0, depth_multiplier=1.0, block="basic"): ...
    """
    if "width_multiplier" not in knobs or "depth_multiplier" not in knobs:
        raise ValueError(f"family {name!r} must declare width_multiplier and depth_multiplier knobs")

    def decorator(builder: Callable[..., Any]) -> Callable[..., Any]:
        if name in _FAMILIES:
            raise ValueError(f"model family {name!r} is already registered")
        _FAMILIES[name] = Family(name, builder, description, dict(knobs))
        return builder

    return decorator


def _ensure_loaded() -> None:
    # Importing the package registers every family module it lists.
    import scalesearch.spaces.families  # noqa: F401


def get_family(name: str) -> Family:
    """The family registered as ``name``; raises ``UnknownNameError`` listing the known ones."""
    _ensure_loaded()
    try:
        return _FAMILIES[name]
    except KeyError:
        known = ", ".join(sorted(_FAMILIES))
        raise UnknownNameError(f"unknown model family {name!r}; known families: {known}") from None


def list_families(pattern: str = "*") -> list[str]:
    """Sorted names of registered families matching a glob ``pattern``."""
    _ensure_loaded()
    return sorted(n for n in _FAMILIES if fnmatch.fnmatch(n, pattern))
