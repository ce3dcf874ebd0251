"""The pick-evidence benchmark's tables: per seed and arm the pick and its retrain; per arm the
mean test accuracy, coverage with its own interval, and paired differences against knee:ideal."""

from __future__ import annotations

import pytest

from tests.benchmark_helpers import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("pick_evidence")


def pick(trial, params, estimate, low, high, gives_up=False):
    return {"trial": trial, "trainings": 0, "neighbour": {"gives_up": gives_up},
            "export": {"metrics": {"params": params}, "uncertainty": {"accuracy": estimate, "seeds": 2,
                                                                      "test_interval": [low, high]}}}


STATE = {"runs": {
    "0": {"picks": {"knee:ideal": pick(1, 10_000, 0.97, 0.94, 0.99, gives_up=True),
                    "knee:chord": pick(2, 30_000, 0.98, 0.95, 0.995)},
          "retrains": {"1": {"test_accuracy": 0.93}, "2": {"test_accuracy": 0.97}}},
    "1": {"picks": {"knee:ideal": pick(4, 40_000, 0.975, 0.95, 0.99), "knee:chord": pick(4, 40_000, 0.975, 0.95, 0.99),
                    "small": pick(5, 45_000, 0.98, 0.96, 0.99)},
          "retrains": {"4": {"test_accuracy": 0.96}}, "final": {"4": {"test_accuracy": 0.99}}},  # trial 5: no row
}}


def test_rows_summary_and_markdown(bench):
    table = bench.rows(STATE)
    assert [(r["seed"], r["arm"], r["trial"], r["inside"]) for r in table] == [
        (0, "knee:ideal", 1, False), (0, "knee:chord", 2, True), (1, "knee:ideal", 4, True), (1, "knee:chord", 4, True)]
    summ = bench.summary(table)
    assert summ["knee:ideal"]["mean_test"] == pytest.approx(0.945) and summ["knee:ideal"]["inside"] == 1
    assert summ["knee:ideal"]["gives_up"] == 1 and summ["knee:ideal"]["vs_ideal"] is None
    diff, se = summ["knee:chord"]["vs_ideal"]
    assert diff == pytest.approx(0.02) and se == pytest.approx(0.02)  # paired: +0.04 and 0.00
    assert summ["knee:chord"]["geo_params"] == pytest.approx((30_000 * 40_000) ** 0.5)
    low, high = summ["knee:chord"]["coverage"]
    assert low < 1.0 and high == 1.0
    text = bench.markdown(table, summ)
    assert "| 0 | knee:ideal | 1 | 10K | 0.9700 (2) | [0.9400, 0.9900] | 0.9300 | no | yes |" in text
    assert "| knee:chord | 2 | 0.9650 (0.0050) | +0.0200 (0.0200) | 34.6K | 40K | 2/2 [" in text


def test_section_table_puts_the_default_export_beside_the_best_small_model(bench):
    text = bench.section(bench.rows(STATE))
    assert "| 0 | 10K | 0.9700 | [0.9400, 0.9900] | 0.9300 | no | - | - | - | - | - | - | - |" in text
    assert "| 1 | 40K | 0.9750 | [0.9500, 0.9900] | 0.9600 | yes | 0.9900 | - |" in text
    assert "default export: mean test 0.9450 (SE 0.0150), largest 40K params, inside 1/2" in text
    # --final over the seeds that have it, paired against the same picks' search-recipe retrains
    assert "--final: mean test 0.9900 (SE nan), paired against the search's recipe +0.0300 (SE nan)" in text
