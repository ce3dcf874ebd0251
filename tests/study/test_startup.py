"""A new study's startup queue (search/study/startup.py): a Latin hypercube over each family's
scale, one uncompressed baseline per family, queued once, replaced by a warm start's queue."""

from __future__ import annotations

import math

import pytest

from scalesearch.errors import UnknownNameError
from scalesearch.search.config.spec import load_spec
from scalesearch.search.study import sampler_spec, startup
from scalesearch.search.study.startup import startup_queue, startup_trials
from scalesearch.search.study.study import open_study
from scalesearch.spaces.space import FloatRange, IntRange, load_space


def _default_space():
    return load_spec(None).space


def _strata(values, low, high, log):
    scale = (lambda v: math.log(v)) if log else (lambda v: v)
    span = scale(high) - scale(low)
    return sorted(min(int((scale(v) - scale(low)) / span * len(values)), len(values) - 1) for v in values)


@pytest.mark.parametrize("seed", [0, 1, 4])
def test_each_family_gets_one_width_per_stratum_and_every_depth(seed):
    space = _default_space()
    queue = startup_queue(space, 24, "scale", seed)
    families = list(space.families)
    k = startup_trials(24) // len(families)
    assert len(queue) == k * len(families) == 8
    assert [q["family"] for q in queue] == families * k  # interleaved: A, B, A, B, ...
    for family in families:
        rows = [q for q in queue if q["family"] == family]
        width = space.families[family]["width_multiplier"]
        widths = [q[f"{family}.width_multiplier"] for q in rows]
        assert all(width.low <= w <= width.high for w in widths)
        assert _strata(widths, width.low, width.high, width.log) == list(range(k))  # a Latin hypercube
        depths = [q[f"{family}.depth_multiplier"] for q in rows]
        choices = space.families[family]["depth_multiplier"].choices
        assert sorted(depths) == sorted(list(choices) * (k // len(choices)))  # balanced
        # The family's first trial is its uncompressed baseline; the rest leave pruning to the sampler.
        assert rows[0]["pruning_ratio"] == 0.0 and all("pruning_ratio" not in r for r in rows[1:])


def test_the_queue_follows_the_seed():
    space = _default_space()
    assert startup_queue(space, 24, "scale", 3) == startup_queue(space, 24, "scale", 3)
    assert startup_queue(space, 24, "scale", 3) != startup_queue(space, 24, "scale", 4)


def test_random_startup_queues_only_the_family_baselines():
    space = _default_space()
    assert startup_queue(space, 24, "random", 0) == [{"family": f, "pruning_ratio": 0.0} for f in space.families]


def test_a_budget_below_the_families_queues_nothing():
    assert startup_queue(_default_space(), 1, "scale", 0) == []


def test_one_family_and_integer_ranges():
    space = load_space({"name": "one", "families": {"resnet": {
        "width_multiplier": {"low": 0.25, "high": 1.0}, "depth_multiplier": 1.0, "block": "basic"}}})
    queue = startup_queue(space, 12, "scale", 0)
    assert len(queue) == startup_trials(12) == 4 and all(set(q) == {"resnet.width_multiplier"} for q in queue)
    assert _strata([q["resnet.width_multiplier"] for q in queue], 0.25, 1.0, False) == [0, 1, 2, 3]
    rows = startup.scale_design("f", {"width_multiplier": IntRange(1, 9, step=2)}, 3, __import__("random").Random(0))
    values = sorted(r["f.width_multiplier"] for r in rows)
    assert all(isinstance(v, int) and v in (1, 3, 5, 7, 9) for v in values) and len(set(values)) == 3
    fixed = startup.scale_design("f", {"width_multiplier": FloatRange(0.5, 0.5)}, 2, __import__("random").Random(0))
    assert fixed == [{"f.width_multiplier": 0.5}] * 2


def test_a_new_study_queues_once(storage_url):
    spec = load_spec(None, ["budget.n_trials=24"])
    study, spec = open_study(spec, storage_url)
    waiting = [t.system_attrs["fixed_params"] for t in study.get_trials(deepcopy=False)]
    assert waiting == startup_queue(spec.space, 24, "scale", spec.sampler.seed)
    study, _ = open_study(spec, storage_url)  # a resume (nothing ran yet) queues nothing more
    assert len(study.get_trials(deepcopy=False)) == len(waiting)


def test_startup_names_are_checked():
    assert tuple(startup.STARTUP_NAMES) == sampler_spec.STARTUP_NAMES
    with pytest.raises(UnknownNameError, match="sampler.startup: unknown startup 'grid'; choose from scale, random"):
        load_spec(None, ["sampler.startup=grid"])
