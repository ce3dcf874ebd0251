"""A new study's first trials: what it measures before the sampler has anything to model.

A study trades accuracy against cost, and its front is only as wide as the scales it tried.
TPE and friends start from a handful of uniformly random trials; with 8 of them over two
families, a seed can leave a whole decade of model sizes untried, and the model-based phase
rarely goes back there (the default study at seed 4 found nothing good between 12K and 52K
params). So a new study queues its startup trials itself, with ``enqueue_trial`` (partial
params: the sampler still draws every other knob):

- ``sampler.startup: scale`` (the default): ``k = n // F`` trials per family, where ``n`` is
  :func:`startup_trials` and ``F`` the number of families, interleaved (family A, B, A, B, ...).
  Within a family they form a Latin hypercube over its scale knobs (``width_multiplier``,
  ``depth_multiplier``): each searched range is cut into ``k`` equal strata (on the log scale
  where the range is log), every stratum used once, at a seeded random point inside it, strata
  paired across knobs by seeded permutations; a knob with choices cycles through them.
- ``random``: one trial per family only (the sampler draws the rest), as before.

Either way each family's first trial is uncompressed (its baseline for the compressed variants;
``search/compression/compress.py``'s ``uncompressed_params``), and nothing is queued when the
budget is smaller than the number of families. A warm start (``search/study/warm_start.py``)
queues its own configurations, which already span the earlier fronts' scales, so it keeps only
the family baselines. Queued once, when the study is created: a resume queues nothing.
"""

from __future__ import annotations

import math
import random
from typing import Any

from scalesearch.search.compression.compress import uncompressed_params
from scalesearch.spaces.space import Choice, FloatRange, IntRange, Param

#: ``sampler.startup`` values, with what each queues.
STARTUP_NAMES: dict[str, str] = {
    "scale": "a Latin hypercube over each family's width and depth",
    "random": "one trial per family; the sampler draws the rest",
}
#: The family knobs that set a model's scale, stratified by ``startup: scale``.
SCALE_KNOBS = ("width_multiplier", "depth_multiplier")


def startup_trials(n_trials: int) -> int:
    """Trials before the sampler models the study: TPE's startup as ``search/study/samplers.py``
    sets it (a third of the budget, 4 to 10), never more than the budget."""
    return min(n_trials, max(4, min(10, n_trials // 3)))


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


def startup_queue(space: Any, n_trials: int, how: str, seed: int | None) -> list[dict[str, Any]]:
    """The params a new study over ``space`` queues first (see the module docstring), in order."""
    families = list(space.families)
    baseline = uncompressed_params(space.compression)
    if len(families) > n_trials or (len(families) == 1 and not baseline and how != "scale"):
        return []
    k = max(1, startup_trials(n_trials) // len(families)) if how == "scale" else 1
    rng = random.Random(seed)
    designs = {f: scale_design(f, dict(space.families[f]), k, rng) if how == "scale" else [{}] for f in families}
    queue = []
    for i in range(k):
        for family in families:
            queue.append({"family": family} | designs[family][i] | (baseline if i == 0 else {}))
    if len(families) == 1:  # no "family" param to fix: the sampler's suggest skips a single choice
        queue = [{key: v for key, v in params.items() if key != "family"} for params in queue]
    return [params for params in queue if params]


def queue_startup(study: Any, spec: Any, *, warm: bool = False) -> int:
    """Queue a new study's startup trials (a warm start's: the family baselines only); returns
    how many were queued."""
    how = "random" if warm else spec.sampler.startup
    queue = startup_queue(spec.space, spec.budget.n_trials, how, spec.sampler.seed)
    for params in queue:
        study.enqueue_trial(params, skip_if_exists=True)
    return len(queue)
