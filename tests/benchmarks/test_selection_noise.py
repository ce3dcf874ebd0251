"""The selection-under-noise benchmark's tables: gap and interval coverage judged on the
``--fit train`` retrain, the ``--fit train+val`` one reported beside it."""

from __future__ import annotations

import pytest

from tests.benchmark_helpers import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("selection_noise")


def pick(trial, promise, low, high, seeds=1):
    return {"trial": trial, "trainings": 0, "export": {"metrics": {"params": 12_000},
            "uncertainty": {"accuracy": promise, "seeds": seeds, "test_interval": [low, high]}}}


STATE = {"runs": {
    "0": {"picks": {"single": pick(1, 0.97, 0.94, 0.99), "lcb": pick(2, 0.95, 0.92, 0.98, 3)},
          "retrains": {"1": {"test_accuracy": 0.93, "test_accuracy_train_val": 0.95},
                       "2": {"test_accuracy": 0.95, "test_accuracy_train_val": 0.96}}},
    "1": {"picks": {"single": pick(4, 0.90, 0.85, 0.93), "lcb": pick(4, 0.90, 0.85, 0.93)},
          "retrains": {"4": {"test_accuracy": 0.92}}},  # train+val not retrained (yet)
}}


def test_gaps_and_coverage_use_the_train_fit(bench):
    table = bench.rows(STATE)
    assert [(r["seed"], r["rule"], r["trial"]) for r in table] == [(0, "single", 1), (0, "lcb", 2), (1, "single", 4),
                                                                   (1, "lcb", 4)]
    assert [r["inside"] for r in table] == [False, True, True, True]
    summ = bench.summary(table)
    assert summ["single"]["mean_gap"] == pytest.approx((0.04 - 0.02) / 2)
    assert summ["single"]["mean_abs_gap"] == pytest.approx(0.03) and summ["single"]["inside"] == 1
    assert summ["lcb"]["mean_abs_gap"] == pytest.approx(0.01) and summ["lcb"]["inside"] == 2
    assert summ["single"]["mean_train_val_lift"] == pytest.approx(0.02)  # only seed 0 has one
    text = bench.markdown(table, summ)
    assert "| 0 | single | 1 | 12K | 0.9700 (1) | [0.9400, 0.9900] | 0.9300 | +0.0400 | no | 0.9500 |" in text
    assert "| 1 | lcb | 4 | 12K | 0.9000 (1) | [0.8500, 0.9300] | 0.9200 | -0.0200 | yes | - |" in text
    assert "| lcb | 2 | -0.0100 | 0.0100 | 2/2 |" in text
