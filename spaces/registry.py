"""The model-family registry: ``@register_family`` + ``get_family`` + ``list_families``.

Adding a family is a one-file change in ``spaces/families/``: define a builder and register it.
A builder maps ``width_multiplier`` and ``depth_multiplier`` (plus family-specific options) to a
model trained from scratch; it must accept every point of the family's ``knobs`` ranges, mapping
a point it cannot build to the nearest valid one instead of raising.

Families from outside the package: register them from your own code (a notebook cell, a script)
with the same decorator, or ship them in an installed package that declares an entry point in
the group :data:`ENTRY_POINT_GROUP`, naming a module whose import registers them::

    [project.entry-points."scalesearch.families"]
    my_models = "my_package.families"

The registry imports those modules the first time it is asked for a family, so the CLI
(``run``, ``worker``, ``spaces``) and Python see the same families. ``scalesearch.testing.
check_family`` runs the contract tests of the built-in families on yours.

This module imports neither torch nor timm; builders import them when called.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scalesearch.errors import FamilyError, UnknownNameError

ENTRY_POINT_GROUP = "scalesearch.families"
BUILT_IN = "built-in"


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
    origin: str = BUILT_IN  # built-in, "plugin <distribution>", or the module that registered it

    def build(self, io: ModelInput, **params: Any) -> Any:
        """Build a fresh, randomly initialised ``torch.nn.Module`` for ``io``."""
        return self.builder(io, **params)

    @property
    def code(self) -> str:
        """A fingerprint of the builder's code (sha256 of its source, else of its compiled code):
        a study records it, so a resume with a changed builder under the same name is noticed."""
        return code_fingerprint(self.builder)


    def model_code(self, io: ModelInput, **params: Any) -> str:
        """A fingerprint of what the builder builds for ``io`` and ``params``
        (:func:`model_fingerprint`): it changes with a helper, class or constant the builder uses,
        which :attr:`code` does not see. Builds the model once; the global random state is kept."""
        import torch

        with torch.random.fork_rng(devices=[]):
            try:
                model = self.build(io, **params)
            except Exception as e:  # a reference point it no longer builds is a change too
                return f"unbuildable: {type(e).__name__}"
        return model_fingerprint(model, home=_home(self.builder))


def code_fingerprint(builder: Callable[..., Any]) -> str:
    import inspect
    import marshal

    digest = hashlib.sha256()
    try:
        digest.update(inspect.getsource(builder).encode())
    except (OSError, TypeError):  # no source file (e.g. exec'd code): the compiled code instead
        if isinstance(builder, type):  # a class without a source file: its own functions' code
            for name, member in sorted(vars(builder).items()):
                function = getattr(member, "__func__", member)
                if hasattr(function, "__code__"):
                    digest.update(f"{name} {code_fingerprint(function)}".encode())
            return digest.hexdigest()
        code = getattr(builder, "__code__", None) or getattr(type(builder).__call__, "__code__", None)
        digest.update(marshal.dumps(code.replace(co_filename="", co_firstlineno=1)) if code else repr(builder).encode())
    return digest.hexdigest()


def model_fingerprint(model: Any, home: str = "") -> str:
    """sha256 of a built model's structure: its printed module tree (classes and their settings),
    each parameter's and buffer's name, shape and dtype, and the code of its module classes
    defined in the package ``home`` (the builder's own: a notebook's ``__main__``, a plugin's
    package), so an edited ``forward`` counts too; torch's and timm's classes are left out, so
    upgrading them changes nothing here."""
    digest = hashlib.sha256(str(model).encode())
    for name, tensor in (*model.named_parameters(), *model.named_buffers()):
        digest.update(f"\n{name} {tuple(tensor.shape)} {tensor.dtype}".encode())
    own = {type(m) for m in model.modules() if home and _home(type(m)) == home}
    for cls in sorted(own, key=lambda c: c.__qualname__):
        digest.update(f"\n{cls.__qualname__} {code_fingerprint(cls)}".encode())
    return digest.hexdigest()


def _home(obj: Any) -> str:
    return (getattr(obj, "__module__", "") or "").split(".")[0]


_FAMILIES: dict[str, Family] = {}
_loading_plugin: str | None = None  # the distribution whose entry point is being imported
_loaded = False


def register_family(
    name: str, *, description: str, knobs: dict[str, dict[str, Any]]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``builder(io: ModelInput, **params) -> nn.Module`` under ``name``.

    Example::

        @register_family("resnet", description="...", knobs={"width_multiplier": {...}})
        def build_resnet(io, width_multiplier=1.0, depth_multiplier=1.0, block="basic"): ...
    """
    missing = [k for k in ("width_multiplier", "depth_multiplier") if k not in (knobs or {})]
    if missing:
        raise FamilyError(f"family {name!r} must declare the width_multiplier and depth_multiplier knobs "
                          f"(missing: {', '.join(missing)}), e.g. knobs={{'width_multiplier': {{'low': 0.25, "
                          "'high': 2.0}, 'depth_multiplier': {'low': 0.5, 'high': 2.0}}")

    def decorator(builder: Callable[..., Any]) -> Callable[..., Any]:
        if _origin(builder) != BUILT_IN:
            import scalesearch.spaces.families  # noqa: F401  (the built-in names, before any of yours)
        old = _FAMILIES.get(name)
        if old is not None and old.origin == BUILT_IN and _origin(builder) != BUILT_IN:
            raise FamilyError(f"model family {name!r} is built in; register yours under another name "
                              f"(e.g. my_{name})")
        if old is not None and _where(old.builder) != _where(builder):  # a re-run notebook cell may replace itself
            raise FamilyError(f"model family {name!r} is already registered (by {old.origin}); pick another name, "
                              "or unregister_family it first")
        _FAMILIES[name] = Family(name, builder, description, dict(knobs), _origin(builder))
        return builder

    return decorator


def unregister_family(name: str) -> None:
    """Forget family ``name`` (for tests and notebooks); built-in families stay."""
    family = get_family(name)
    if family.origin == BUILT_IN:
        raise FamilyError(f"model family {name!r} is built in and cannot be unregistered")
    del _FAMILIES[name]


def _where(builder: Callable[..., Any]) -> tuple[str, str]:
    return getattr(builder, "__module__", ""), getattr(builder, "__qualname__", repr(builder))


def _origin(builder: Callable[..., Any]) -> str:
    module = getattr(builder, "__module__", "") or "?"
    if module.startswith("scalesearch.spaces.families."):
        return BUILT_IN
    return f"plugin {_loading_plugin}" if _loading_plugin else module


def _ensure_loaded() -> None:
    """Import the built-in family modules, then every installed plugin's (once)."""
    global _loaded, _loading_plugin
    import scalesearch.spaces.families  # noqa: F401  (importing the package registers its modules)

    if _loaded:
        return
    _loaded = True
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        _loading_plugin = point.dist.name if point.dist is not None else point.value
        try:
            point.load()
        except Exception as e:
            _loaded = False  # the next call reports it again instead of going on without it
            raise FamilyError(f"family plugin {point.name!r} ({point.value}, package {_loading_plugin}) failed to "
                              f"load: {type(e).__name__}: {e}; fix or uninstall that package") from None
        finally:
            _loading_plugin = None


def get_family(name: str) -> Family:
    """The family registered as ``name``; raises ``UnknownNameError`` listing the known ones."""
    _ensure_loaded()
    try:
        return _FAMILIES[name]
    except KeyError:
        known = ", ".join(sorted(_FAMILIES))
        raise UnknownNameError(f"unknown model family {name!r}; known families: {known} (a family of your own "
                               f"must be registered in this process, or installed as a {ENTRY_POINT_GROUP} "
                               "plugin)") from None


def list_families(pattern: str = "*") -> list[str]:
    """Sorted names of registered families matching a glob ``pattern``."""
    _ensure_loaded()
    return sorted(n for n in _FAMILIES if fnmatch.fnmatch(n, pattern))
