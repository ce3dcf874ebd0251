"""The contract every model family keeps, as checks that raise :class:`FamilyError`.

``tests/spaces/test_families.py`` runs them over every registered family (built in or plugged
in); users run them on their own with ``scalesearch.testing.check_family("my_family")``:

- the corners of its width x depth range build, run forward and backward at 16 and 32 px with 1
  and 3 channels (and at 8 px, 1 channel: digits), output ``(batch, num_classes)``, and every
  parameter gets a gradient;
- parameters grow strictly with width and with depth;
- every point of its range builds (a grid, on torch's meta device when the family allows it),
  every choice of every choice knob builds, and trains at the small corner;
- its knobs are valid search-space data that its builder accepts, with defaults in range;
- ``drop_rate`` and ``drop_path_rate`` knobs, where declared, take effect in training mode.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from typing import Any

from scalesearch.errors import FamilyError, SpecError
from scalesearch.spaces.catalog import SCALE_KNOBS, corner, count_params, knob_bounds
from scalesearch.spaces.registry import Family, ModelInput, get_family
from scalesearch.spaces.space import param_values, parse_param

NUM_CLASSES = 10
CORNERS = (("low", "low"), ("low", "high"), ("high", "low"), ("high", "high"))
#: (input side, channels) every corner must train at: small colour/grey images, and digits.
SHAPES = ((16, 1), (16, 3), (32, 1), (32, 3), (8, 1))


def _family(family: Family | str) -> Family:
    return get_family(family) if isinstance(family, str) else family


def _point(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items())


def build(family: Family | str, size: int, chans: int, **params: Any) -> Any:
    """The family's model for ``NUM_CLASSES`` classes, seeded; a failure names the point."""
    import torch

    family = _family(family)
    torch.manual_seed(0)
    try:
        return family.build(ModelInput(NUM_CLASSES, chans, size), **params)
    except Exception as e:
        raise FamilyError(f"family {family.name}: building {_point(params)} at {size}px, {chans} channel(s) "
                          f"failed: {type(e).__name__}: {e}") from e


def forward_backward(model: Any, chans: int, size: int, what: str = "the model") -> None:
    """A training step's forward and backward: output ``(2, NUM_CLASSES)``, a gradient for every
    trainable parameter."""
    import torch

    model.train()
    try:
        out = model(torch.randn(2, chans, size, size))
    except Exception as e:
        raise FamilyError(f"{what}: forward pass on a (2, {chans}, {size}, {size}) batch failed: "
                          f"{type(e).__name__}: {e}") from e
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, NUM_CLASSES):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise FamilyError(f"{what}: output is {shape} for a batch of 2 and {NUM_CLASSES} classes; a builder's "
                          f"model must return logits of shape (batch, num_classes) = (2, {NUM_CLASSES})")
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 1])).backward()
    unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    if unused:
        raise FamilyError(f"{what}: parameters that get no gradient: {', '.join(unused[:5])}; remove them or "
                          "use them in forward")


def check_output(family: Family | str, io: ModelInput, point: dict[str, Any]) -> None:
    """One eval-mode forward at ``point`` for ``io``: the output must be ``(batch, num_classes)``
    (what a study checks before its first trial, for families that are not built in)."""
    import torch

    family = _family(family)
    try:
        model = family.build(io, **point).eval()
        with torch.no_grad():
            out = model(torch.zeros(2, io.in_chans, io.input_size, io.input_size))
    except Exception as e:
        raise FamilyError(f"family {family.name}: building and running {_point(point)} for {io.input_size}px, "
                          f"{io.in_chans} channel(s), {io.num_classes} classes failed: {type(e).__name__}: {e}") from e
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    if shape != (2, io.num_classes):
        raise FamilyError(f"family {family.name}: its model's output is {shape} for a batch of 2 images "
                          f"({io.in_chans}x{io.input_size}x{io.input_size}); it must be (batch, num_classes) = "
                          f"(2, {io.num_classes}); build the head from io.num_classes")


def check_corner(family: Family | str, width: str, depth: str, size: int, chans: int) -> None:
    family = _family(family)
    point = corner(family, width, depth)
    what = f"family {family.name} at {_point(point)}, {size}px, {chans} channel(s)"
    forward_backward(build(family, size, chans, **point), chans, size, what)


def params(family: Family | str, size: int = 32, **point: Any) -> int:
    family = _family(family)
    try:
        return count_params(family, ModelInput(NUM_CLASSES, 3, size), **point)
    except Exception as e:
        raise FamilyError(f"family {family.name}: building {_point(point)} at {size}px failed: "
                          f"{type(e).__name__}: {e}") from e


def check_params_grow(family: Family | str) -> None:
    family = _family(family)
    at = {(w, d): params(family, **corner(family, w, d)) for w, d in CORNERS}
    low = at["low", "low"]
    for grown, other in ((("high", "low"), "width"), (("low", "high"), "depth")):
        if at[grown] <= low:
            raise FamilyError(f"family {family.name}: {at[grown]} parameters at the high end of {other} vs {low} at "
                              f"the low end; parameters must grow with {other}_multiplier")
    if at["high", "high"] <= max(at["high", "low"], at["low", "high"]):
        raise FamilyError(f"family {family.name}: the largest corner ({at['high', 'high']} parameters) is not larger "
                          "than growing width or depth alone")


def _grid(knob: dict[str, Any], n: int = 3) -> list[Any]:
    low, high = knob_bounds(knob)
    return [low + (high - low) * i / (n - 1) for i in range(n)]


def check_every_point_builds(family: Family | str, size: int) -> None:
    """A width x depth grid, and every choice of every choice knob at the smallest and largest
    corner, build (construction only: the traps are in the constructors)."""
    family = _family(family)
    grid = itertools.product(*(_grid(family.knobs[k]) for k in SCALE_KNOBS))
    points = [dict(zip(SCALE_KNOBS, p, strict=True)) for p in grid]
    for knob, data in family.knobs.items():
        for value, ends in itertools.product(data.get("choices", []), ("low", "high")):
            points.append(corner(family, ends, ends) | {knob: value})
    for point in points:
        if params(family, size, **point) <= 0:
            raise FamilyError(f"family {family.name}: {_point(point)} at {size}px builds a model without parameters")


def choice_points(family: Family | str) -> list[tuple[str, Any]]:
    """``(knob, value)`` for every choice of every choice knob."""
    family = _family(family)
    return [(k, c) for k, v in family.knobs.items() if "choices" in v for c in v["choices"]]


def check_choice_trains(family: Family | str, knob: str, value: Any) -> None:
    family = _family(family)
    point = corner(family, "low", "low") | {knob: value}
    forward_backward(build(family, 16, 3, **point), 3, 16, f"family {family.name} at {_point(point)}")


def check_knobs(family: Family | str) -> None:
    """Knobs are search-space data; the builder takes each one, with a default inside its range."""
    family = _family(family)
    for knob in SCALE_KNOBS:
        if knob not in family.knobs:
            raise FamilyError(f"family {family.name}: declares no {knob} knob; every family scales by width and depth")
    signature = inspect.signature(family.builder).parameters
    for knob, data in family.knobs.items():
        where = f"family {family.name}: knob {knob}"
        try:
            bound = parse_param(data, f"{family.name}.{knob}")
        except SpecError as e:
            raise FamilyError(f"family {family.name}: knobs must be search-space data: {e}") from None
        if knob not in signature:
            raise FamilyError(f"{where} is declared but the builder does not take it")
        default = signature[knob].default
        if default is inspect.Parameter.empty:
            raise FamilyError(f"{where} needs a default value in the builder")
        values = param_values(bound)
        inside = default in values if "choices" in data else min(values) <= default <= max(values)
        if not inside:
            raise FamilyError(f"{where}: the builder's default {default!r} is outside its range {data}")
    for knob in SCALE_KNOBS:
        low, high = knob_bounds(family.knobs[knob])
        if not low < high:
            raise FamilyError(f"family {family.name}: knob {knob} must span a range (low < high), got {low}..{high}")


def _stochastic(family: Family, **point: Any) -> bool:
    """Whether two training-mode forwards of one batch differ."""
    import torch

    model = build(family, 16, 3, **corner(family, "low", "low"), **point).train()
    with torch.no_grad():  # as if trained: a zero-initialised last layer of a branch hides its dropping
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(16, 3, 16, 16)
    return not torch.equal(model(x), model(x))


def check_drop_rates(family: Family | str) -> None:
    """``drop_rate`` / ``drop_path_rate``, where declared: off at 0, on at the range's top."""
    family = _family(family)
    rates = [k for k in ("drop_rate", "drop_path_rate") if k in family.knobs]
    off = dict.fromkeys(rates, 0.0)
    if rates and _stochastic(family, **off):
        raise FamilyError(f"family {family.name}: training-mode outputs vary with {_point(off)}; nothing but the "
                          "drop knobs may make a model random")
    for knob in rates:
        top = knob_bounds(family.knobs[knob])[1]
        if not _stochastic(family, **(off | {knob: top})):
            raise FamilyError(f"family {family.name}: {knob}={top} has no effect in training mode; pass it to "
                              "the model's dropout")


def contract(family: Family | str) -> list[tuple[str, Callable[[], None]]]:
    """Every check of the contract for ``family``, as (description, run) pairs."""
    family = _family(family)
    checks: list[tuple[str, Callable[[], None]]] = [("knobs are search-space data", lambda: check_knobs(family))]
    for (width, depth), (size, chans) in itertools.product(CORNERS, SHAPES):
        checks.append((f"{width} width, {depth} depth trains at {size}px x {chans}",
                       lambda a=(width, depth, size, chans): check_corner(family, *a)))
    checks.append(("parameters grow with width and depth", lambda: check_params_grow(family)))
    for size in (8, 32):
        checks.append((f"every point builds at {size}px", lambda s=size: check_every_point_builds(family, s)))
    for knob, value in choice_points(family):
        checks.append((f"{knob}={value} trains", lambda k=knob, v=value: check_choice_trains(family, k, v)))
    checks.append(("drop rates take effect", lambda: check_drop_rates(family)))
    return checks


def check_family(family: Family | str) -> list[str]:
    """Run the whole contract on a registered family (a name or a ``Family``); raise
    :class:`~scalesearch.errors.FamilyError` naming the first broken rule, else return the
    checks that passed.

    >>> from scalesearch.testing import check_family
    >>> check_family("resnet")  # doctest: +SKIP
    ['knobs are search-space data', 'low width, low depth trains at 16px x 1', ...]
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is fastest, and leaves the others free
    try:
        passed = []
        for description, run in contract(family):
            run()
            passed.append(description)
        return passed
    finally:
        torch.set_num_threads(threads)
