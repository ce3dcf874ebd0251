"""Accuracy intervals: Wilson on the validation size, seed spread, and the test split's noise."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from scalesearch.search.results.selection import RULES
from scalesearch.search.results.uncertainty import (
    Pooled,
    estimate,
    pooled,
    quantile,
    verdict,
    wilson,
)


def test_wilson_matches_the_textbook_values():
    # Wilson (1927) for 0.95 of 360 at 95 %: centre (p + z²/2n) / (1 + z²/n), half-width as in the formula.
    low, high = wilson(0.95, 360)
    assert (round(low, 4), round(high, 4)) == (0.9224, 0.9681)
    assert wilson(1.0, 360)[1] == pytest.approx(1.0) and wilson(1.0, 360)[0] < 1.0  # a perfect score still has noise
    assert wilson(0.5, 100, confidence=0.99)[1] - wilson(0.5, 100)[1] > 0  # more confidence, wider


def test_one_seed_without_a_known_spread_is_the_plain_wilson_interval():
    e = estimate([0.95], 360, 360)
    assert e.seed_std is None and e.seed_std_source == "unknown"
    assert e.validation == pytest.approx(wilson(0.95, 360), abs=1e-9)
    # The test interval adds the test split's own binomial noise: about sqrt(2) wider.
    width = lambda iv: iv[1] - iv[0]  # noqa: E731
    assert width(e.test) / width(e.validation) == pytest.approx(math.sqrt(2), rel=0.05)


def test_seed_spread_widens_the_intervals_and_more_seeds_narrow_the_validation_one():
    few = estimate([0.97, 0.95], 360, 360)
    many = estimate([0.97, 0.95, 0.97, 0.95, 0.97, 0.95], 360, 360)
    alone = estimate([0.96], 360, 360)
    assert few.seed_std_source == "measured" and few.accuracy == pytest.approx(0.96)
    assert few.validation[0] < alone.validation[0] and few.test[0] < alone.test[0]
    assert many.validation[0] > few.validation[0]
    assert few.lower == few.validation[0]


def test_pooled_spread_replaces_each_trials_own_and_carries_its_degrees_of_freedom():
    pool = pooled([(0.01, 3), (0.02, 3), (0.5, 1)])
    assert pool == Pooled(pytest.approx(math.sqrt((0.0001 + 0.0004) / 2)), 4, 2)
    assert pooled([(0.5, 1)]) is None
    alone = estimate([0.96], 360, 360, pooled=Pooled(0.01, 4, 2))
    assert alone.seed_std == 0.01 and alone.seed_std_source == "pooled" and alone.seed_dof == 4
    # Two seeds that agreed by chance: their own std (0) would give the Wilson interval of 360
    # images; pooled, they are read with the study's seed noise.
    lucky = estimate([0.96, 0.96], 360, 360, pooled=Pooled(0.015, 6, 3))
    assert lucky.seed_std == 0.015 and lucky.lower < estimate([0.96, 0.96], 360, 360).lower
    assert lucky.to_data()["seed_std_dof"] == 6


def test_student_t_widens_intervals_with_few_degrees_of_freedom():
    assert quantile() == pytest.approx(1.959964) and quantile(dof=4) == pytest.approx(2.776445)
    assert wilson(0.9, 100, dof=3)[0] < wilson(0.9, 100)[0]
    few = estimate([0.95, 0.96], 360, 360, pooled=Pooled(0.01, 2, 2))
    many = estimate([0.95, 0.96], 360, 360, pooled=Pooled(0.01, 200, 100))
    assert few.validation[0] < many.validation[0] and few.test[0] < many.test[0]


def test_lower_bound_does_not_reward_seeds_that_agreed_by_chance():
    """Many studies of 6 candidates with the same true accuracy, 3 seeds each (seed std 0.01,
    validation sampling on 360 images). Picking the highest lower bound should be no more likely
    to land on the candidate whose seeds agreed best than chance (1/6). With each trial's own
    std (1 or 2 degrees of freedom) it is far more likely; with the pooled std it is not."""
    rng = random.Random(1)
    k, n, runs, lcb = 6, 360, 1500, RULES["lcb"]
    lucky_own = lucky_pooled = 0
    for _ in range(runs):
        seeds = [[0.95 + rng.gauss(0, 0.01) + rng.gauss(0, math.sqrt(0.95 * 0.05 / n)) for _ in range(3)]
                 for _ in range(k)]
        steadiest = min(range(k), key=lambda i: statistics.stdev(seeds[i]))
        pool = pooled([(statistics.stdev(s), 3) for s in seeds])
        own = max(range(k), key=lambda i: lcb(estimate(seeds[i], n, n)))
        shared = max(range(k), key=lambda i: lcb(estimate(seeds[i], n, n, pooled=pool)))
        lucky_own += own == steadiest
        lucky_pooled += shared == steadiest
    chance, se = 1 / k, math.sqrt(1 / k * (1 - 1 / k) / runs)
    assert abs(lucky_pooled / runs - chance) < 3 * se
    assert lucky_own / runs > chance + 6 * se  # the old rule: the test can tell


def test_the_test_interval_covers_simulated_retrainings_at_about_its_level():
    """Simulate the model behind the formula: a config's seeds vary (std 0.01) around 0.95; each
    is scored on binomial validation and test splits of 360. Of 2000 (3-seed estimate, one new
    retrain's test accuracy) pairs, about 95 % land in the stated test interval."""
    rng = random.Random(0)
    true, seed_sd, n, runs = 0.95, 0.01, 360, 2000
    inside = 0
    for _ in range(runs):
        val_bias = statistics.fmean(rng.random() < true for _ in range(n)) - true  # this study's split
        accs = [min(1.0, true + val_bias + rng.gauss(0, seed_sd)) for _ in range(3)]  # shared by its seeds
        e = estimate(accs, n, n)
        test_p = min(1.0, max(0.0, true + rng.gauss(0, seed_sd)))
        test = sum(rng.random() < test_p for _ in range(n)) / n
        inside += e.test[0] <= test <= e.test[1]
    assert 0.92 <= inside / runs <= 0.985


def test_verdict_says_inside_below_or_above():
    u = estimate([0.96, 0.95, 0.97], 360, 360).to_data()
    assert verdict(0.96, u)[0] and "inside the exported 95 % interval" in verdict(0.96, u)[1]
    assert verdict(0.80, u) == (False, verdict(0.80, u)[1]) and "below" in verdict(0.80, u)[1]
    assert "above" in verdict(1.0, estimate([0.5], 360, 360).to_data())[1]
    assert "over 3 seeds" in verdict(0.96, u)[1]
    assert "interval is for training on the train split" not in verdict(0.96, u)[1]


def test_verdict_after_train_val_says_the_interval_is_for_the_train_split():
    u = estimate([0.95, 0.96, 0.94], 360, 360).to_data()
    inside, line = verdict(0.999, u, "train+val")
    assert not inside and "above" in line and "interval is for training on the train split (--fit train)" in line
    python = verdict(0.999, u, "train+val", caller="python")[1]  # what scalesearch.train prints and stores
    assert "interval is for training on the train split (fit='train')" in python and "--" not in python
