"""The study spec: one frozen dataclass tree, read from YAML, overridable with ``--set``.

Precedence: ``--set key.path=value`` > the YAML file > the defaults below. The resolved spec
(:func:`spec_to_data`) is stored with the study, so a study can be resumed or reproduced from
its storage alone.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scalesearch.errors import SpecError, UnknownNameError, option
from scalesearch.search.compression.deploy_spec import DeploySpec, validate_deploy
from scalesearch.search.config.feasibility import check_satisfiable
from scalesearch.search.config.metrics import (
    METRICS,
    OPTIONAL_METRICS,
    Condition,
    direction,
    parse_condition,
)
from scalesearch.search.datasets.kinds_spec import check_dataset
from scalesearch.search.datasets.spec import DatasetSpec
from scalesearch.search.runtime.device import is_device_name
from scalesearch.search.storage.heartbeat_spec import GRACE_SECONDS, HEARTBEAT_SECONDS
from scalesearch.search.study.early_stopping_spec import EarlyStoppingSpec, validate_early_stopping
from scalesearch.search.study.sampler_spec import SamplerSpec, validate_sampler
from scalesearch.search.training.schedules import check_schedules
from scalesearch.spaces.space import SearchSpace, load_space, param_values, read_yaml, space_data

DEFAULT_SPEC = Path(__file__).resolve().parents[2] / "studies" / "digits.yaml"


@dataclass(frozen=True)
class BudgetSpec:
    n_trials: int = 24  # study-wide: finished (complete + pruned) trials
    timeout: float | None = None  # seconds, per `run` invocation
    max_epochs: int | None = None  # study-wide: training epochs spent by all trials (any state)


@dataclass(frozen=True)
class TrainingSpec:
    """Trainer settings that are not searched (searched knobs live in the space)."""

    grad_clip: float = 5.0
    amp: bool = True  # bf16 autocast on CUDA; ignored on CPU
    channels_last: bool = True  # on CUDA
    eval_batch_size: int = 1024


@dataclass(frozen=True)
class FinalReevalSpec:
    """At a study's end, train its top ``top`` front candidates (knee order) ``seeds`` more times;
    ``top: 0`` (default) is off. Results: ``ss.stability.<trial>`` (search/results/reeval.py)."""

    top: int = 0
    seeds: int = 2


@dataclass(frozen=True)
class MeasureSpec:
    latency_batch_size: int = 32
    latency_warmup: int = 3
    latency_repeats: int = 15
    # CPU: time spent per batch size, at most; the passes stop there (>= 1 warm-up, >= 3 timed).
    latency_seconds: float = 0.1
    extra_metrics: tuple[str, ...] = ()  # measured and recorded, not optimised: see OPTIONAL_METRICS
    stability_runs: int = 3  # K trainings with different seeds behind accuracy_std
    final_reeval: FinalReevalSpec = field(default_factory=FinalReevalSpec)


@dataclass(frozen=True)
class WorkersSpec:
    """How workers notice each other's crashes; stored with the study so every host agrees."""

    heartbeat_seconds: int = HEARTBEAT_SECONDS  # a running trial proves it is alive this often
    grace_seconds: int = GRACE_SECONDS  # a trial silent this long is failed, and its config retried
    max_retries: int = 2  # times one config is retried after crashes or interrupts


@dataclass(frozen=True)
class StudySpec:
    study_name: str = "digits"
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    space: SearchSpace = field(default=None, metadata={"parse": load_space})  # type: ignore[assignment]
    objectives: tuple[str, ...] = ("accuracy", "params")
    constraints: tuple[str, ...] = ()
    budget: BudgetSpec = field(default_factory=BudgetSpec)
    sampler: SamplerSpec = field(default_factory=SamplerSpec)
    early_stopping: EarlyStoppingSpec = field(default_factory=EarlyStoppingSpec)
    training: TrainingSpec = field(default_factory=TrainingSpec)
    measure: MeasureSpec = field(default_factory=MeasureSpec)
    deploy: DeploySpec = field(default_factory=DeploySpec)
    workers: WorkersSpec = field(default_factory=WorkersSpec)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int | None = None  # CPU threads per worker; None = all cores
    seed: int = 0

    @property
    def directions(self) -> list[str]:
        return [direction(m) for m in self.objectives]

    @property
    def conditions(self) -> list[Condition]:
        return [parse_condition(c, "constraints") for c in self.constraints]


# --------------------------------------------------------------------------- loading


def load_spec(path: str | Path | None = None, overrides: Sequence[str] = (), caller: str = "cli") -> StudySpec:
    """Read a spec file (default ``studies/digits.yaml``), apply ``--set`` overrides, validate
    (errors in the ``caller``'s words: ``cli`` or ``python``)."""
    path = Path(path) if path is not None else DEFAULT_SPEC
    data = read_yaml(path, "spec")
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise SpecError(f"spec: {path} must hold a mapping of keys (study_name, space, objectives, ...)")
    return spec_from_data(apply_overrides(dict(data), overrides, caller))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


#: An override as each caller writes it, for errors (``caller`` of :func:`apply_overrides`).
OVERRIDE_EXAMPLE = {"cli": "--set budget.n_trials=10", "python": "overrides={'budget.n_trials': 10}"}


def apply_overrides(data: dict[str, Any], overrides: Sequence[str], caller: str = "cli") -> dict[str, Any]:
    """Apply ``key.path=value`` strings (values parsed as YAML scalars) to plain spec data; errors
    name ``--set`` or, for ``caller="python"``, ``overrides``."""
    name = option(caller, "--set", "overrides")
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"{name} {item!r}: expected key.path=value, e.g. "
                            f"{OVERRIDE_EXAMPLE.get(caller, OVERRIDE_EXAMPLE['cli'])}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            raise SpecError(f"{name} {item!r}: cannot read the value {raw!r}") from None
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.get(part, "small_cnn" if node is data and part == "space" else None)
            if child is None:
                child = node[part] = {}
            elif node is data and part == "space" and isinstance(child, str):
                # `--set space.training.epochs=3` edits the referenced preset's data.
                child = node[part] = _plain(space_data(child, "space"))
            elif not isinstance(child, dict):
                raise SpecError(f"{name} {key}: {part!r} is not a section, cannot set a key inside it")
            node = child
        node[parts[-1]] = value
    return data


def spec_from_data(data: Mapping[str, Any]) -> StudySpec:
    """A validated :class:`StudySpec` from plain data (a YAML file or a stored study)."""
    data = dict(data)
    data.setdefault("space", "small_cnn")
    spec = _build(StudySpec, data, "")
    _validate(spec)
    return spec


def spec_to_data(spec: StudySpec) -> dict[str, Any]:
    """Plain, JSON-safe data that :func:`spec_from_data` reads back to an equal spec."""
    data = {}
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if isinstance(value, SearchSpace):
            data[f.name] = value.to_data()
        elif dataclasses.is_dataclass(value):
            data[f.name] = dataclasses.asdict(value, dict_factory=_lists_dict)
        elif isinstance(value, tuple):
            data[f.name] = list(value)
        else:
            data[f.name] = value
    return data


def _lists_dict(items: list[tuple[str, Any]]) -> dict[str, Any]:
    """``dataclasses.asdict`` factory writing tuples as lists, as JSON storage reads them back."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in items}


def _type_name(tp: Any) -> str:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if typing.get_origin(tp) is tuple:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    return {type(None): "null", int: "an integer", float: "a number", str: "a string", bool: "true/false"}.get(tp, getattr(tp, "__name__", str(tp)))


def _convert(tp: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(tp):
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise SpecError(f"{where}: expected a section (mapping), got {value!r}")
        return _build(tp, value, where)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        for arm in typing.get_args(tp):
            try:
                return _convert(arm, value, where)
            except SpecError:
                continue
        raise SpecError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if typing.get_origin(tp) is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise SpecError(f"{where}: expected {_type_name(tp)}, got {value!r}")
        (item,) = typing.get_args(tp)[:1]
        return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if tp is type(None):
        if value is not None:
            raise SpecError(f"{where}: expected null, got {value!r}")
        return None
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool) and (type(value) is not tp):
        raise SpecError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    return value


def _build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    prefix = f"{where}." if where else ""
    for key in data:
        if key not in fields:
            section = f" in {where}" if where else ""
            raise SpecError(f"{prefix}{key}: unknown key{section}; known keys: {', '.join(fields)}")
    kwargs = {}
    for name, value in data.items():
        parse = fields[name].metadata.get("parse")
        kwargs[name] = parse(value, f"{prefix}{name}") if parse else _convert(hints[name], value, f"{prefix}{name}")
    return cls(**kwargs)


def _validate(spec: StudySpec) -> None:
    def positive(value: float | None, where: str) -> None:
        if value is not None and value <= 0:
            raise SpecError(f"{where}: must be positive, got {value}")

    positive(spec.budget.n_trials, "budget.n_trials")
    positive(spec.budget.timeout, "budget.timeout")
    positive(spec.budget.max_epochs, "budget.max_epochs")
    positive(spec.threads, "threads")
    positive(spec.measure.latency_batch_size, "measure.latency_batch_size")
    positive(spec.measure.latency_repeats, "measure.latency_repeats")
    positive(spec.measure.latency_seconds, "measure.latency_seconds")
    positive(spec.training.eval_batch_size, "training.eval_batch_size")
    positive(spec.workers.heartbeat_seconds, "workers.heartbeat_seconds")
    if spec.workers.grace_seconds <= spec.workers.heartbeat_seconds:
        raise SpecError(f"workers.grace_seconds: must exceed workers.heartbeat_seconds "
                        f"({spec.workers.heartbeat_seconds}), got {spec.workers.grace_seconds}")
    if spec.workers.max_retries < 0:
        raise SpecError(f"workers.max_retries: must be 0 or more, got {spec.workers.max_retries}")
    check_dataset(spec.dataset)
    for i, name in enumerate(spec.measure.extra_metrics):
        if name not in OPTIONAL_METRICS:
            raise UnknownNameError(f"measure.extra_metrics[{i}]: {name!r} is not an optional metric; choose from {', '.join(OPTIONAL_METRICS)}")
    if spec.measure.final_reeval.top < 0 or spec.measure.final_reeval.seeds < 1:
        raise SpecError(f"measure.final_reeval: top must be 0 (off) or more and seeds 1 or more, "
                        f"got top {spec.measure.final_reeval.top}, seeds {spec.measure.final_reeval.seeds}")
    if spec.measure.stability_runs < 2:
        raise SpecError(f"measure.stability_runs: accuracy_std needs at least 2 trainings, got {spec.measure.stability_runs}")
    if not spec.study_name.strip():
        raise SpecError("study_name: must not be empty")
    validate_sampler(spec.sampler)
    if not spec.objectives:
        raise SpecError(f"objectives: list at least one of {', '.join(METRICS)}")
    for i, name in enumerate(spec.objectives):
        if name not in METRICS:
            raise UnknownNameError(f"objectives[{i}]: unknown objective {name!r}; choose from {', '.join(METRICS)}")
    if len(set(spec.objectives)) != len(spec.objectives):
        raise SpecError("objectives: each objective may appear only once")
    for i, text in enumerate(spec.constraints):
        parse_condition(text, f"constraints[{i}]")
    check_satisfiable(spec.conditions)
    validate_early_stopping(spec.early_stopping)
    if "schedule" in spec.space.training:
        check_schedules(param_values(spec.space.training["schedule"]))
    if not is_device_name(spec.device, also=("auto",)):
        raise SpecError(f"device: expected auto, cpu, cuda or cuda:N, got {spec.device!r}")
    validate_deploy(spec.deploy, spec.device, spec.space.compression)
