"""A new study's startup design (search/study/startup.py): a Latin hypercube over each family's
scale, answered by the sampler for the first trials, in every worker; none for a warm start."""

from __future__ import annotations

import math

import pytest

from scalesearch.errors import UnknownNameError
from scalesearch.search.config.spec import load_spec
from scalesearch.search.study import sampler_spec, startup
from scalesearch.search.study.startup import scale_rows, startup_trials
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
    rows = scale_rows(space, 24, seed)
    families = list(space.families)
    k = startup_trials(24) // len(families)
    assert len(rows) == k * len(families) == 8
    assert [r["family"] for r in rows] == families * k  # interleaved: A, B, A, B, ... (the baselines first)
    for family in families:
        mine = [r for r in rows if r["family"] == family]
        width = space.families[family]["width_multiplier"]
        widths = [r[f"{family}.width_multiplier"] for r in mine]
        assert all(width.low <= w <= width.high for w in widths)
        assert _strata(widths, width.low, width.high, width.log) == list(range(k))  # a Latin hypercube
        depths = [r[f"{family}.depth_multiplier"] for r in mine]
        choices = space.families[family]["depth_multiplier"].choices
        assert sorted(depths) == sorted(list(choices) * (k // len(choices)))  # balanced
        assert all(set(r) == {"family", f"{family}.width_multiplier", f"{family}.depth_multiplier"} for r in mine)


def test_the_design_follows_the_seed():
    space = _default_space()
    assert scale_rows(space, 24, 3) == scale_rows(space, 24, 3)
    assert scale_rows(space, 24, 3) != scale_rows(space, 24, 4)


def test_a_budget_below_the_families_has_no_design():
    assert scale_rows(_default_space(), 1, 0) == []


def test_one_family_and_integer_ranges():
    space = load_space({"name": "one", "families": {"resnet": {
        "width_multiplier": {"low": 0.25, "high": 1.0}, "depth_multiplier": 1.0, "block": "basic"}}})
    rows = scale_rows(space, 12, 0)
    assert len(rows) == startup_trials(12) == 4 and all(set(r) == {"family", "resnet.width_multiplier"} for r in rows)
    assert _strata([r["resnet.width_multiplier"] for r in rows], 0.25, 1.0, False) == [0, 1, 2, 3]
    rows = startup.scale_design("f", {"width_multiplier": IntRange(1, 9, step=2)}, 3, __import__("random").Random(0))
    values = sorted(r["f.width_multiplier"] for r in rows)
    assert all(isinstance(v, int) and v in (1, 3, 5, 7, 9) for v in values) and len(set(values)) == 3
    fixed = startup.scale_design("f", {"width_multiplier": FloatRange(0.5, 0.5)}, 2, __import__("random").Random(0))
    assert fixed == [{"f.width_multiplier": 0.5}] * 2


def _proposed(study, n):
    """The scale knobs of the first ``n`` trials the study's sampler proposes (nothing trained)."""
    out = []
    for _ in range(n):
        trial = study.ask()
        params = {"family": trial.suggest_categorical("family", ["resnet", "convnext"])}
        family = params["family"]
        knobs = load_spec(None).space.families[family]
        params[f"{family}.width_multiplier"] = trial.suggest_float(
            f"{family}.width_multiplier", knobs["width_multiplier"].low, knobs["width_multiplier"].high, log=True)
        params[f"{family}.depth_multiplier"] = trial.suggest_categorical(
            f"{family}.depth_multiplier", list(knobs["depth_multiplier"].choices))
        study.tell(trial, [0.9, 1000.0])
        out.append(params)
    return out


def test_the_study_proposes_the_design_then_samples(storage_url):
    spec = load_spec(None, ["budget.n_trials=24"])
    study, spec = open_study(spec, storage_url)
    # Nothing waits in the storage but each family's uncompressed baseline (trials 0 and 1).
    assert [t.system_attrs["fixed_params"] for t in study.get_trials(deepcopy=False)] == \
        [{"family": f, "pruning_ratio": 0.0} for f in spec.space.families]
    rows = scale_rows(spec.space, 24, spec.sampler.seed)
    proposed = _proposed(study, len(rows) + 2)
    assert proposed[:len(rows)] == rows
    # Past the design, the sampler's own draws (not a row again).
    assert all(p not in rows for p in proposed[len(rows):])


def test_a_worker_follows_the_study_design_and_a_warm_start_has_none(storage_url):
    from scalesearch.search.runtime.workers import prepare_worker
    from scalesearch.search.study.study import apply_plan, plan_study

    spec = load_spec(None, ["budget.n_trials=24"])
    study, spec = open_study(spec, storage_url)
    prepare_worker(study, spec, index=1)  # its own sampler seed; the study's design
    assert _proposed(study, 3) == scale_rows(spec.space, 24, spec.sampler.seed)[:3]
    other = load_spec(None, ["budget.n_trials=24", "study_name=warm"])
    warm, _ = apply_plan(plan_study(other, storage_url), storage_url, warm=True)
    assert not isinstance(warm.sampler, startup.StartupSampler)
    random_start, _ = open_study(load_spec(None, ["sampler.startup=random", "study_name=r"]), storage_url)
    assert not isinstance(random_start.sampler, startup.StartupSampler)


def test_startup_names_are_checked():
    assert set(sampler_spec.STARTUP_NAMES) == {"scale", "random"}  # with_startup's two cases
    with pytest.raises(UnknownNameError, match="sampler.startup: unknown startup 'grid'; choose from scale, random"):
        load_spec(None, ["sampler.startup=grid"])


def test_a_value_outside_the_distribution_falls_back_to_the_sampler():
    import optuna

    base = optuna.samplers.RandomSampler(0)
    sampler = startup._sampler_class()(base, [{"family": "vit", "x": 5.0}])
    study = optuna.create_study(sampler=sampler)
    trial = study.ask()
    assert trial.suggest_categorical("family", ["resnet", "convnext"]) in ("resnet", "convnext")
    assert 0.0 <= trial.suggest_float("x", 0.0, 1.0) <= 1.0
