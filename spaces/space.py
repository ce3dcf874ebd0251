"""Search spaces are data: YAML loaded into frozen dataclasses, turned into Optuna calls by
one function, :func:`suggest`.

A space file::

    name: small_cnn
    input_size: 8                      # the input size the ranges were chosen for
    families:                          # family -> its knobs (conditional on the family)
      resnet:
        width_multiplier: {low: 0.0625, high: 0.5, log: true}
        depth_multiplier: {choices: [0.5, 1.0]}
        block: basic                   # a plain value is fixed, not searched
    training:
      lr: {low: 1.0e-3, high: 1.0e-2, log: true}
      epochs: 12
      batch_size: {choices: [32, 64]}
      augment: {low: 0.0, high: 0.6}   # random rotation/scale/shift strength, 0..1
      ema: 0.99                        # EMA of the weights, per-step decay (0 = off)
    compression:                       # optional; absent = models are deployed as trained
      pruning_ratio: {choices: [0.0, 0.3, 0.5]}
      finetune_epochs: 2
      quantization: {choices: [none, int8_static]}

A parameter is a plain value (fixed), ``{choices: [...]}`` (categorical) or
``{low, high[, log][, step][, type: int]}`` (a float range unless ``type: int``).
Family knobs are named ``<family>.<knob>`` in the study, so each family's knobs are
conditional on that family being chosen. Compression knobs are conditional too: a knob listed
in :data:`COMPRESSION_KNOBS` with prerequisites is sampled only when one of them is non-zero
(no fine-tuning epochs are sampled for a model that is neither pruned nor sparsified). Their
values are checked against the compression registries by the study spec (``search/compression/compress.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from scalesearch.errors import SpecError, UnknownNameError
from scalesearch.spaces.registry import get_family, list_families

PRESET_DIR = Path(__file__).parent

#: Training knobs a space may set; the trainer's ``TrainConfig`` has exactly these fields.
TRAINING_KNOBS = (
    "lr", "weight_decay", "label_smoothing", "epochs", "batch_size", "schedule", "warmup_epochs",
    "augment", "ema",
)

#: Training knobs whose values have bounds, checked when a space is read: knob -> (low, high).
TRAINING_BOUNDS: dict[str, tuple[float, float]] = {
    "augment": (0.0, 1.0),  # strength of random rotation/scale/shift (search/datasets/augment.py)
    "ema": (0.0, 0.9999),  # per-step decay of the weights' average; 0 = off (search/training/ema.py)
}

#: Compression knobs a space may set -> knobs of which one must be non-zero for it to matter.
#: Sampled in this order into ``config["compression"]``; ``search/compression/compress.py`` applies them.
COMPRESSION_KNOBS: dict[str, tuple[str, ...]] = {
    "pruning_ratio": (),
    "sparsity": (),
    "quantization": (),
    "pruning_allocation": ("pruning_ratio",),
    "pruning_profile": ("pruning_ratio",),
    "finetune_epochs": ("pruning_ratio", "sparsity"),
    "finetune_lr_factor": ("pruning_ratio", "sparsity"),
    "finetune_fraction": ("pruning_ratio", "sparsity"),
}

Scalar = int | float | str | bool


@dataclass(frozen=True)
class Fixed:
    value: Scalar | tuple[float, ...]  # a tuple only for a fixed compression.pruning_profile list


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    log: bool = False
    step: float | None = None


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    log: bool = False
    step: int = 1


@dataclass(frozen=True)
class Choice:
    choices: tuple[Scalar, ...]


Param = Fixed | FloatRange | IntRange | Choice


def param_values(param: Param) -> list[Any]:
    """The values a knob can take: its fixed value, its choices, or a range's two ends."""
    match param:
        case Fixed(v):
            return [v]
        case Choice(cs):
            return list(cs)
        case FloatRange(low=lo, high=hi) | IntRange(low=lo, high=hi):
            return [lo, hi]
    raise TypeError(param)


@dataclass(frozen=True)
class SearchSpace:
    name: str
    families: Mapping[str, Mapping[str, Param]]
    training: Mapping[str, Param] = field(default_factory=dict)
    input_size: int | None = None
    description: str = ""
    compression: Mapping[str, Param] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        """The plain-data form :func:`parse_space` reads back (stored with each study)."""
        data = {
            "name": self.name,
            "description": self.description,
            "input_size": self.input_size,
            "families": {f: {k: param_to_data(p) for k, p in kn.items()} for f, kn in self.families.items()},
            "training": {k: param_to_data(p) for k, p in self.training.items()},
        }
        if self.compression:
            data["compression"] = {k: param_to_data(p) for k, p in self.compression.items()}
        return data


class TrialLike(Protocol):
    """The part of ``optuna.Trial`` that :func:`suggest` uses."""

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False) -> float: ...
    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...
    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


def suggest(trial: TrialLike, space: SearchSpace) -> dict[str, Any]:
    """Sample one configuration: ``{"family": .., "model": {knob: ..}, "training": {..}}``,
    plus ``"compression": {..}`` when the space has a compression section."""
    family = _suggest(trial, "family", Choice(tuple(space.families)))
    model = {k: _suggest(trial, f"{family}.{k}", p) for k, p in space.families[family].items()}
    training = {k: _suggest(trial, k, p) for k, p in space.training.items()}
    config = {"family": family, "model": model, "training": training}
    if space.compression:
        compression: dict[str, Any] = {}
        for knob, needs in COMPRESSION_KNOBS.items():
            if knob in space.compression and (not needs or any(compression.get(n) for n in needs)):
                compression[knob] = _suggest(trial, knob, space.compression[knob])
        config["compression"] = compression
    return config


def _suggest(trial: TrialLike, name: str, param: Param) -> Any:
    match param:
        case Fixed(value):
            return value
        case Choice(choices) if len(choices) == 1:
            return choices[0]
        case Choice(choices):
            return trial.suggest_categorical(name, list(choices))
        case IntRange(low, high, log, step):
            return trial.suggest_int(name, low, high, step=step, log=log)
        case FloatRange(low, high, log, step):
            return trial.suggest_float(name, low, high, step=step, log=log)
    raise TypeError(f"not a search-space parameter: {param!r}")


# --------------------------------------------------------------------------- parsing


def param_to_data(p: Param) -> Any:
    match p:
        case Fixed(value):
            return list(value) if isinstance(value, tuple) else value
        case Choice(choices):
            return {"choices": list(choices)}
        case IntRange(low, high, log, step):
            return {"low": low, "high": high, "log": log, "step": step, "type": "int"}
        case FloatRange(low, high, log, step):
            data = {"low": low, "high": high, "log": log}
            return data | ({"step": step} if step is not None else {})
    raise TypeError(p)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(f"{where}: expected a number, got {value!r}")
    return value


def parse_param(data: Any, where: str) -> Param:
    """One parameter from its data form; errors name ``where`` (the key path)."""
    if isinstance(data, Scalar):
        return Fixed(data)
    if not isinstance(data, Mapping):
        raise SpecError(f"{where}: expected a value, {{choices: [...]}} or {{low: .., high: ..}}, got {data!r}")
    if "choices" in data:
        extra = set(data) - {"choices"}
        choices = data["choices"]
        if extra:
            raise SpecError(f"{where}: unknown key {sorted(extra)[0]!r} beside 'choices'")
        if not isinstance(choices, list) or not choices:
            raise SpecError(f"{where}.choices: expected a non-empty list, got {choices!r}")
        if not all(isinstance(c, Scalar) for c in choices):
            raise SpecError(f"{where}.choices: choices must be plain values (numbers, strings, booleans)")
        return Choice(tuple(choices))
    unknown = set(data) - {"low", "high", "log", "step", "type"}
    if unknown:
        raise SpecError(f"{where}: unknown key {sorted(unknown)[0]!r}; a range takes low, high, log, step, type")
    if "low" not in data or "high" not in data:
        raise SpecError(f"{where}: a range needs both 'low' and 'high'")
    low, high = _number(data["low"], f"{where}.low"), _number(data["high"], f"{where}.high")
    log = data.get("log", False)
    if not isinstance(log, bool):
        raise SpecError(f"{where}.log: expected true or false, got {log!r}")
    if low > high:
        raise SpecError(f"{where}: low ({low}) is greater than high ({high}); swap them")
    if log and low <= 0:
        raise SpecError(f"{where}: a log range needs low > 0, got {low}")
    kind = data.get("type", "float")
    if kind == "int":
        if low != int(low) or high != int(high):
            raise SpecError(f"{where}: an int range needs whole-number bounds, got {low}..{high}")
        step = data.get("step", 1)
        if not isinstance(step, int) or step < 1:
            raise SpecError(f"{where}.step: expected a positive integer, got {step!r}")
        return IntRange(int(low), int(high), log, step)
    if kind != "float":
        raise SpecError(f"{where}.type: expected 'int' or 'float', got {kind!r}")
    step = data.get("step")
    if step is not None and _number(step, f"{where}.step") <= 0:
        raise SpecError(f"{where}.step: must be positive, got {step}")
    return FloatRange(float(low), float(high), log, step)


def _within(param: Param, bound: Param, where: str, what: str = "the family's range") -> None:
    """Refuse space ranges outside what the family declares it can build."""
    values = param_values(param)
    match bound:
        case Choice(allowed):
            bad = [v for v in values if v not in allowed]
            if bad:
                raise SpecError(f"{where}: {bad[0]!r} is not one of {list(allowed)}")
        case FloatRange(low=lo, high=hi) | IntRange(low=lo, high=hi):
            for v in values:
                if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
                    raise SpecError(f"{where}: {v!r} is outside {what} [{lo}, {hi}]")


def parse_space(data: Any, where: str = "space") -> SearchSpace:
    """A :class:`SearchSpace` from its data form, validated against the family registry."""
    if not isinstance(data, Mapping):
        raise SpecError(f"{where}: expected a mapping with 'families' and 'training', got {data!r}")
    unknown = set(data) - {"name", "description", "input_size", "families", "training", "compression"}
    if unknown:
        raise SpecError(f"{where}: unknown key {sorted(unknown)[0]!r}; a space has name, description, input_size, families, training, compression")
    families_data = data.get("families")
    if not isinstance(families_data, Mapping) or not families_data:
        raise SpecError(f"{where}.families: expected a non-empty mapping of family -> knobs; families: {', '.join(list_families())}")
    families: dict[str, dict[str, Param]] = {}
    for name, knobs in families_data.items():
        try:
            family = get_family(name)
        except UnknownNameError as e:
            raise UnknownNameError(f"{where}.families: {e}") from None
        knobs = knobs or {}
        if not isinstance(knobs, Mapping):
            raise SpecError(f"{where}.families.{name}: expected a mapping of knob -> value or range")
        parsed = {}
        for knob, value in knobs.items():
            path = f"{where}.families.{name}.{knob}"
            if knob not in family.knobs:
                raise SpecError(f"{path}: unknown knob for {name}; it has {', '.join(family.knobs)}")
            parsed[knob] = parse_param(value, path)
            _within(parsed[knob], parse_param(family.knobs[knob], path), path)
        families[name] = parsed
    training_data = data.get("training") or {}
    if not isinstance(training_data, Mapping):
        raise SpecError(f"{where}.training: expected a mapping of knob -> value or range")
    training = {}
    for knob, value in training_data.items():
        if knob not in TRAINING_KNOBS:
            raise SpecError(f"{where}.training.{knob}: unknown training knob; known: {', '.join(TRAINING_KNOBS)}")
        training[knob] = parse_param(value, f"{where}.training.{knob}")
        if knob in TRAINING_BOUNDS:
            low, high = TRAINING_BOUNDS[knob]
            _within(training[knob], FloatRange(low, high), f"{where}.training.{knob}", "its range")
    compression = _parse_compression(data.get("compression") or {}, f"{where}.compression")
    input_size = data.get("input_size")
    if input_size is not None and (not isinstance(input_size, int) or isinstance(input_size, bool) or input_size < 1):
        raise SpecError(f"{where}.input_size: expected a positive integer, got {input_size!r}")
    return SearchSpace(
        name=str(data.get("name", "inline")),
        families=families,
        training=training,
        input_size=input_size,
        description=str(data.get("description", "")),
        compression=compression,
    )


def _parse_compression(data: Any, where: str) -> dict[str, Param]:
    """Knob names checked here; their values by the spec, against the compression registries.
    ``pruning_profile`` may also be one fixed list of per-stage multipliers."""
    if not isinstance(data, Mapping):
        raise SpecError(f"{where}: expected a mapping of knob -> value or range")
    out: dict[str, Param] = {}
    for knob, value in data.items():
        if knob not in COMPRESSION_KNOBS:
            raise SpecError(f"{where}.{knob}: unknown compression knob; known: {', '.join(COMPRESSION_KNOBS)}")
        if knob == "pruning_profile" and isinstance(value, list):
            if not value or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
                raise SpecError(f"{where}.{knob}: a profile list holds numbers (per-stage multipliers), got {value!r}")
            out[knob] = Fixed(tuple(value))
        else:
            out[knob] = parse_param(value, f"{where}.{knob}")
    return out


def list_presets() -> list[str]:
    """Names of the space presets shipped in ``spaces/*.yaml``."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def space_data(ref: str | Mapping[str, Any], where: str = "space") -> Mapping[str, Any]:
    """The raw data of a space given as a preset name, a YAML path, or an inline mapping."""
    if isinstance(ref, Mapping):
        return ref
    if not isinstance(ref, str):
        raise SpecError(f"{where}: expected a preset name, a path to a space YAML, or a mapping")
    path = Path(ref)
    if not path.suffix:
        path = PRESET_DIR / f"{ref}.yaml"
        if not path.exists():
            raise UnknownNameError(f"{where}: unknown space preset {ref!r}; presets: {', '.join(list_presets())}")
    data = read_yaml(path, where)
    if not isinstance(data, Mapping):
        raise SpecError(f"{where}: {path} must hold a mapping with 'families' and 'training'")
    return data


def load_space(ref: str | Mapping[str, Any], where: str = "space") -> SearchSpace:
    """A space from a preset name (``small_cnn``), a YAML path, or an inline mapping."""
    return parse_space(space_data(ref, where), where)


def read_yaml(path: Path, what: str) -> Any:
    """``yaml.safe_load`` of a file, with one-line errors for missing or invalid files."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise SpecError(f"{what}: file not found: {path}") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise SpecError(f"{what}: cannot read {path}: {e.__class__.__name__}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(f"{what}: {path} is not valid YAML{at}: {getattr(e, 'problem', e)}") from None
