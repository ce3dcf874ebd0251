"""A new study's first trials: what it measures before the sampler has anything to model.

A study trades accuracy against cost, and its front is only as wide as the scales it tried.
TPE and friends start from a handful of uniformly random trials; with 8 of them over two
families, a seed can leave a whole decade of model sizes untried, and the model-based phase
rarely goes back there (the default study at seed 4 found nothing good between 12K and 52K
params). So the first :func:`startup_trials` trials of a study follow a design:

- ``sampler.startup: scale`` (the default): ``k = n // F`` trials per family (``n`` startup
  trials, ``F`` families), interleaved by trial number (family A, B, A, B, ...). Within a family
  they form a Latin hypercube over its scale knobs (``width_multiplier``, ``depth_multiplier``):
  each searched range is cut into ``k`` equal strata (on the log scale where the range is log),
  every stratum used once, at a seeded random point inside it, strata paired across knobs by
  seeded permutations; a knob with choices cycles through them. The sampler draws every other
  knob, as it would.
- ``random``: no design; the sampler draws them all.

Either way a new multi-family study (or one that searches compression) queues each family's
first trial with ``enqueue_trial``, uncompressed (its baseline for the compressed variants;
``uncompressed_params``), unless the budget is smaller than the number of families; those are
trials 0 .. F-1, which is where the design puts the families too.

The design is not queued: :class:`StartupSampler` wraps the study's sampler and answers a trial
numbered below ``k * F`` from its row, so nothing waits in the storage when a study stops early,
every worker process (which builds the same design from the study's seed) agrees, a resumed
study past its startup is untouched, and a re-run config (fixed params) keeps its own values. A
warm-started study (``search/study/warm_start.py``) queues earlier fronts' configurations, which
already span their scales, so it has no design.
"""

from __future__ import annotations

import functools
import math
import random
from typing import Any

from scalesearch.search.compression.compress import uncompressed_params
from scalesearch.search.study.samplers import SEED_ATTR, tpe_startup_trials
from scalesearch.spaces.space import Choice, FloatRange, IntRange, Param

#: The family knobs that set a model's scale, stratified by ``startup: scale``.
SCALE_KNOBS = ("width_multiplier", "depth_multiplier")


def startup_trials(n_trials: int) -> int:
    """Trials before the sampler models the study: TPE's startup (``tpe_startup_trials``), never
    more than the budget."""
    return min(n_trials, tpe_startup_trials(n_trials))


def _stratum_value(param: Param, position: float) -> Any:
    """The value at ``position`` in [0, 1) of a range (log-scaled where the range is)."""
    lo, hi = param.low, param.high
    if param.log:
        value = math.exp(math.log(lo) + position * (math.log(hi) - math.log(lo)))
    else:
        value = lo + position * (hi - lo)
    if isinstance(param, IntRange):
        value = lo + round((value - lo) / param.step) * param.step
        return int(min(max(value, lo), hi))
    if param.step is not None:
        value = lo + round((value - lo) / param.step) * param.step
    return min(max(float(f"{value:.4g}"), lo), hi)


def scale_design(family: str, knobs: dict[str, Param], k: int, rng: random.Random) -> list[dict[str, Any]]:
    """``k`` partial params for ``family``: a Latin hypercube over its searched scale knobs."""
    design: list[dict[str, Any]] = [{} for _ in range(k)]
    for name in SCALE_KNOBS:
        param = knobs.get(name)
        if isinstance(param, FloatRange | IntRange):
            strata = rng.sample(range(k), k)
            for row, stratum in zip(design, strata, strict=True):
                row[f"{family}.{name}"] = _stratum_value(param, (stratum + rng.random()) / k)
        elif isinstance(param, Choice) and len(param.choices) > 1:
            order = rng.sample(list(param.choices), len(param.choices))
            offset = rng.randrange(len(order))
            for i, row in enumerate(design):
                row[f"{family}.{name}"] = order[(i + offset) % len(order)]
    return design


def scale_rows(space: Any, n_trials: int, seed: int | None) -> list[dict[str, Any]]:
    """The design's partial params, one row per trial number (see the module docstring)."""
    families = list(space.families)
    if len(families) > n_trials:
        return []
    k = max(1, startup_trials(n_trials) // len(families))
    rng = random.Random(seed)
    designs = {f: scale_design(f, dict(space.families[f]), k, rng) for f in families}
    rows = [{"family": family} | designs[family][i] for i in range(k) for family in families]
    return rows if any(len(row) > 1 for row in rows) else []


def queue_baselines(study: Any, spec: Any) -> None:
    """Queue each family's uncompressed first trial in a new study (see the module docstring)."""
    families = list(spec.space.families)
    baseline = uncompressed_params(spec.space.compression)
    if (len(families) > 1 or baseline) and len(families) <= spec.budget.n_trials:
        for family in families:
            study.enqueue_trial({"family": family} | baseline, skip_if_exists=True)


def _fits(distribution: Any, value: Any) -> bool:
    """Whether ``value`` is one ``distribution`` can return (a categorical one raises on others)."""
    try:
        return distribution._contains(distribution.to_internal_repr(value))
    except ValueError:
        return False


class StartupSampler:
    """``base`` with the design's values for the trials it covers (see the module docstring).
    A subclass of ``optuna.samplers.BaseSampler`` (made by :func:`with_startup`)."""

    def __init__(self, base: Any, rows: list[dict[str, Any]]):
        self.base, self.rows = base, rows
        setattr(self, SEED_ATTR, getattr(base, SEED_ATTR, None))

    def _row(self, trial: Any) -> dict[str, Any]:
        return self.rows[trial.number] if trial.number < len(self.rows) else {}

    def infer_relative_search_space(self, study: Any, trial: Any) -> Any:
        return self.base.infer_relative_search_space(study, trial)

    def sample_relative(self, study: Any, trial: Any, search_space: Any) -> Any:
        row = self._row(trial)
        return {k: v for k, v in self.base.sample_relative(study, trial, search_space).items() if k not in row}

    def sample_independent(self, study: Any, trial: Any, param_name: str, param_distribution: Any) -> Any:
        row = self._row(trial)
        if param_name in row and _fits(param_distribution, row[param_name]):
            return row[param_name]
        return self.base.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Any, trial: Any) -> None:
        self.base.before_trial(study, trial)

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        self.base.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.base.reseed_rng()


@functools.cache
def _sampler_class() -> type:
    """StartupSampler as an Optuna ``BaseSampler`` (Optuna is imported only when a study runs)."""
    import optuna

    return type("StartupSampler", (StartupSampler, optuna.samplers.BaseSampler), {})


def with_startup(sampler: Any, study: Any, spec: Any, *, warm: bool = False) -> Any:
    """``sampler`` answering the study's startup design (``sampler.startup: scale``, from the seed
    the study's spec gives, not a worker's); ``sampler`` itself for a warm start or ``random``."""
    from scalesearch.search.config import attrs

    if warm or spec.sampler.startup != "scale" or study.user_attrs.get(attrs.WARM_START):
        return sampler
    rows = scale_rows(spec.space, spec.budget.n_trials, spec.sampler.seed)
    return _sampler_class()(sampler, rows) if rows else sampler
