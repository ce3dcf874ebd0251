"""The one rule of a useful model (search/results/useful.py) on hand-made trials."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from scalesearch.search.config import attrs
from scalesearch.search.config.spec import load_spec
from scalesearch.search.results import useful


def _trial(number: int, **metrics: float) -> SimpleNamespace:
    return SimpleNamespace(number=number, values=None, system_attrs={},
                           user_attrs={attrs.metric_key(k): v for k, v in metrics.items()})


def _with_values(trials, spec):
    for t in trials:
        t.values = [useful.exact_metrics(t)[name] for name in spec.objectives]
    return trials


@pytest.fixture
def spec():
    return load_spec(None, [])  # the default: accuracy (max), params (min)


# The default study's seed-0 front as the issue measured it: trial 9 is tiny and barely learned.
FRONT = [(9, 0.2944, 2_670), (19, 0.9556, 5_470), (21, 0.9667, 9_950), (22, 0.9806, 29_200), (8, 0.9944, 834_000)]


def test_tiny_barely_learned_trial_is_set_aside_and_named(spec):
    trials = _with_values([_trial(n, accuracy=a, params=p) for n, a, p in FRONT], spec)
    kept, aside = useful.split_useful(trials, spec, classes=10)
    assert [t.number for t in aside] == [9]
    assert [t.number for t in kept] == [19, 21, 22, 8]
    rule = useful.usefulness(trials, spec, classes=10)
    assert rule.floor == pytest.approx(0.1 + 0.5 * (0.9944 - 0.1))
    line = useful.set_aside_text(aside, rule)
    assert line.startswith("set aside trial 9 (0.2944): accuracy below 0.5472") and "chance 0.1" in line
    assert [t.number for t in useful.useful_front(trials, spec, classes=10)] == [19, 21, 22, 8]


def test_unknown_classes_uses_chance_zero(spec):
    trials = _with_values([_trial(n, accuracy=a, params=p) for n, a, p in FRONT], spec)
    rule = useful.usefulness(trials, spec)
    assert rule.chance == 0.0 and rule.floor == pytest.approx(0.4972)
    assert useful.useful_mask(trials, spec) == [False, True, True, True, True]
    assert useful.set_aside_text([], rule) == ""


def test_axis_range_spans_the_useful_trials_only(spec):
    trials = _with_values([_trial(n, accuracy=a, params=p) for n, a, p in FRONT], spec)
    low, high = useful.axis_range(trials, spec, "accuracy", classes=10)
    assert 0.95 < low < 0.9556 and 0.9944 < high <= 1.0
    low, high = useful.axis_range(trials, spec, "params", classes=10)
    assert low < 5_470 and high > 834_000
    assert useful.axis_range(trials, spec, "latency_ms") is None


def test_three_objectives_only_accuracy_sets_aside():
    spec = load_spec(None, ["objectives=[accuracy, params, latency_ms]"])
    rows = [(0, 0.30, 1_000, 0.1), (1, 0.97, 10_000, 5.0), (2, 0.98, 50_000, 0.3), (3, 0.60, 900, 0.05)]
    trials = _with_values([_trial(n, accuracy=a, params=p, latency_ms=lat) for n, a, p, lat in rows], spec)
    assert useful.useful_mask(trials, spec, classes=10) == [False, True, True, True]
    assert {t.number for t in useful.useful_front(trials, spec, classes=10)} == {1, 2, 3}


def test_no_accuracy_objective_sets_nothing_aside():
    spec = load_spec(None, ["objectives=[params, latency_ms]"])
    trials = _with_values([_trial(0, accuracy=0.1, params=10, latency_ms=1.0),
                           _trial(1, accuracy=0.99, params=1_000, latency_ms=0.5)], spec)
    assert useful.useful_mask(trials, spec, classes=10) == [True, True]
    assert useful.usefulness(trials, spec).floor is None


def test_classes_from_spec_class_names():
    spec = load_spec(None, ["dataset.class_names=[a, b]"])
    assert useful.classes_of(spec) == 2
    assert useful.chance_level(2) == 0.5 and useful.chance_level(None) == 0.0
    assert useful.floor_of([0.9, 0.6], classes=2) == pytest.approx(0.7)


@pytest.mark.parametrize("knee", ["ideal", "chord", "marginal"])
def test_a_degenerate_point_never_changes_the_knee(spec, knee):
    """Random fronts of useful models (accuracy rising with log params), with and without tiny,
    barely-learned points below them: the knee on the useful front is the same trial."""
    import random

    from scalesearch.search.results.export import parse_pick

    rank = parse_pick(f"knee:{knee}")
    rng = random.Random(knee)
    for _ in range(200):
        n = rng.randint(1, 8)
        params = sorted(rng.sample(range(3_000, 3_000_000), n))
        accs = sorted(rng.uniform(0.80, 0.995) for _ in range(n))
        trials = [_trial(i, accuracy=a, params=p) for i, (a, p) in enumerate(zip(accs, params, strict=True))]
        degenerate = [_trial(100 + j, accuracy=rng.uniform(0.05, 0.35), params=rng.randint(100, 2_999))
                      for j in range(rng.randint(1, 3))]
        base = useful.useful_front(_with_values(trials, spec), spec, classes=10)
        both = useful.useful_front(_with_values(trials + degenerate, spec), spec, classes=10)
        assert rank(base, spec)[0].number == rank(both, spec)[0].number


def test_the_knee_steps_up_when_a_slightly_larger_model_is_much_better(spec):
    from scalesearch.search.results.export import knee_ideal, parse_pick

    # scaled over this front the ideal point is nearest to trial 1; trial 2 gives 2 points for 2x the params
    rows = [(0, 0.80, 1_000), (1, 0.95, 3_000), (2, 0.97, 6_000), (3, 0.975, 100_000), (4, 0.98, 1_000_000)]
    trials = _with_values([_trial(n, accuracy=a, params=p) for n, a, p in rows], spec)
    front = useful.useful_front(trials, spec)
    assert min(front, key=lambda t: knee_ideal(front, spec)[front.index(t)]).number == 1
    ranked = parse_pick("knee")(front, spec)
    assert ranked[0].number == 2  # from 2, trial 3 gives 0.5 points for 17x: not worth it
    assert sorted(t.number for t in ranked) == [0, 1, 2, 3, 4]


def test_the_knee_steps_past_a_close_neighbour_to_a_much_better_one(spec):
    """The next larger trial is only 1 point up, but the one after it, still under 3x the params
    of the knee, is 3 points up: the pick steps to the cheapest trial more than 1.5 points up."""
    from scalesearch.search.results.export import parse_pick

    rows = [(0, 0.80, 1_000), (1, 0.95, 3_000), (2, 0.96, 4_000), (3, 0.98, 7_000), (4, 0.985, 500_000)]
    front = useful.useful_front(_with_values([_trial(n, accuracy=a, params=p) for n, a, p in rows], spec), spec)
    assert parse_pick("knee")(front, spec)[0].number == 3


@pytest.mark.parametrize("knee", ["ideal", "chord", "marginal"])
def test_no_knee_gives_up_more_than_the_limit_for_less_than_3x_fewer_params(spec, knee):
    """On random fronts, whatever the definition: no trial under 3x the pick's params is more than
    1.5 points more accurate."""
    import random

    from scalesearch.search.results.export import CHEAPER, GIVE_UP, parse_pick

    rng = random.Random(f"give-up-{knee}")
    for _ in range(200):
        n = rng.randint(2, 10)
        params = sorted(rng.sample(range(2_000, 2_000_000), n))
        accs = sorted(rng.uniform(0.85, 0.995) for _ in range(n))
        front = useful.useful_front(_with_values([_trial(i, accuracy=a, params=p)
                                                  for i, (a, p) in enumerate(zip(accs, params, strict=True))], spec),
                                    spec, classes=10)
        pick = parse_pick(f"knee:{knee}")(front, spec)[0]
        acc, cost = pick.values
        assert not [t.number for t in front if cost < t.values[1] < CHEAPER * cost and t.values[0] - acc > GIVE_UP]
