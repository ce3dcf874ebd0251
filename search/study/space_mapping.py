"""One configuration of an earlier study, mapped into this study's search space (warm start).

A configuration is read as a flat ``{Optuna param name: value}`` dict (``family``,
``<family>.<knob>``, training and compression knobs, as :func:`spaces.space.suggest` names
them), then replayed through :func:`suggest` with a recording trial, so the mapped params and
their Optuna distributions follow the new space exactly (its conditional knobs included):

- a family the new space lacks drops the configuration;
- a knob the new space lacks is dropped; one it fixes takes its fixed value;
- a number outside the new range is clipped to it (and to its step);
- a numeric categorical value not among the new choices goes to the nearest one; another
  value (a string) is left to the sampler;
- a knob the earlier study did not search is left to the sampler.

Every change is counted by kind in :class:`Changes`, which says each once, in one line.

    changes = Changes()
    mapped = map_config(flat_config(config), space, changes)   # None: its family is not here
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from scalesearch.spaces.space import SearchSpace, suggest


@dataclass
class Changes:
    """What mapping changed, counted per (knob, what happened)."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    mapped: int = 0  # configurations seen (dropped ones included)

    def note(self, knob: str, what: str) -> None:
        self.counts[(knob, what)] += 1

    def lines(self) -> list[str]:
        """One line per kind of change: ``resnet.width_multiplier: above 0.25, clipped to it (3 of 24)``."""
        return [f"{knob}: {what} ({n} of {self.mapped} configurations)" for (knob, what), n in sorted(self.counts.items())]


@dataclass(frozen=True)
class Mapped:
    """A configuration in the new space: Optuna params and their distributions (JSON-able via
    ``optuna.distributions.distribution_to_json``)."""

    params: dict[str, Any]
    distributions: dict[str, Any]


def flat_config(config: dict[str, Any]) -> dict[str, Any]:
    """``{"family": .., "model": {..}, "training": {..}, "compression": {..}}`` as Optuna names it."""
    family = config.get("family")
    flat: dict[str, Any] = {"family": family} if family is not None else {}
    flat |= {f"{family}.{k}": v for k, v in (config.get("model") or {}).items()}
    flat |= dict(config.get("training") or {})
    flat |= dict(config.get("compression") or {})
    return flat


def known_knobs(space: SearchSpace) -> set[str]:
    """Every param name the space can set (searched or fixed)."""
    names = {"family"} | {f"{f}.{k}" for f, knobs in space.families.items() for k in knobs}
    return names | set(space.training) | set(space.compression)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _Replay:
    """A ``TrialLike`` that answers each ``suggest_*`` with the earlier value, mapped."""

    def __init__(self, source: dict[str, Any], changes: Changes):
        self.source, self.changes = source, changes
        self.params: dict[str, Any] = {}
        self.distributions: dict[str, Any] = {}
        self.asked: set[str] = set()

    def _keep(self, name: str, value: Any, distribution: Any) -> Any:
        self.params[name], self.distributions[name] = value, distribution
        return value

    def _number(self, name: str, low: float, high: float, step: float | None, distribution: Any, cast: Any) -> Any:
        self.asked.add(name)
        value = self.source.get(name)
        if not _is_number(value):
            self.changes.note(name, "not searched by the earlier study: left to the sampler")
            return None
        mapped = min(max(value, low), high)
        if step:
            mapped = min(low + round((mapped - low) / step) * step, high)
        mapped = cast(mapped)
        if value < low or value > high:
            self.changes.note(name, f"outside [{low:g}, {high:g}]: clipped to it")
        elif not math.isclose(mapped, value, rel_tol=1e-9, abs_tol=1e-12):
            self.changes.note(name, f"off the step {step:g}: rounded to it")
        return self._keep(name, mapped, distribution)

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False) -> Any:
        import optuna

        return self._number(name, low, high, step, optuna.distributions.FloatDistribution(low, high, log=log, step=step),
                            float)

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> Any:
        import optuna

        return self._number(name, low, high, step, optuna.distributions.IntDistribution(low, high, log=log, step=step),
                            lambda v: int(round(v)))

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        import optuna

        self.asked.add(name)
        distribution = optuna.distributions.CategoricalDistribution(list(choices))
        value = self.source.get(name)
        if name not in self.source:
            self.changes.note(name, "not searched by the earlier study: left to the sampler")
            return None
        if value in choices:
            return self._keep(name, value, distribution)
        numbers = [c for c in choices if _is_number(c)]
        if _is_number(value) and numbers:
            nearest = min(numbers, key=lambda c: abs(c - value))
            self.changes.note(name, f"{value!r} not among the choices: moved to the nearest")
            return self._keep(name, nearest, distribution)
        self.changes.note(name, f"{value!r} not among the choices: left to the sampler")
        return None


def map_config(source: dict[str, Any], space: SearchSpace, changes: Changes) -> Mapped | None:
    """``source`` (flat, see :func:`flat_config`) in ``space``; None when its family is not
    there (noted in ``changes``)."""
    changes.mapped += 1
    family = source.get("family")
    if family not in space.families:
        changes.note("family", f"{family} is not in this space: configurations dropped")
        return None
    replay = _Replay(source, changes)
    if len(space.families) > 1:
        replay.asked.add("family")
        replay._keep("family", family, _family_distribution(space))
    config = suggest(_Fixed(replay, family), space)
    fixed_here = flat_config(config)
    known = known_knobs(space)
    for name, value in source.items():
        if name in replay.asked or name == "family":
            continue
        if name not in known:
            changes.note(name, "not in this space: dropped")
        elif name in fixed_here and fixed_here[name] is not None and fixed_here[name] != value:
            changes.note(name, f"fixed to {fixed_here[name]!r} here (was {value!r})")
    return Mapped(replay.params, replay.distributions)


def _family_distribution(space: SearchSpace) -> Any:
    import optuna

    return optuna.distributions.CategoricalDistribution(list(space.families))


class _Fixed:
    """The replay, with ``family`` answered as given (checked by :func:`map_config` already)."""

    def __init__(self, replay: _Replay, family: str):
        self.replay, self.family = replay, family

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self.family if name == "family" else self.replay.suggest_categorical(name, choices)

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False) -> Any:
        return self.replay.suggest_float(name, low, high, step=step, log=log)

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> Any:
        return self.replay.suggest_int(name, low, high, step=step, log=log)

