"""The interval-formulas benchmark: its first formula is export's, and its table counts coverage."""

from __future__ import annotations

import json

import pytest

from scalesearch.search.results.uncertainty import Pooled, estimate
from tests.benchmark_helpers import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("interval_formulas")


def _uncertainty(accs, std=0.012, dof=5):
    return estimate(accs, 360, 360, pooled=Pooled(std, dof, 3)).to_data()


def test_wilson_twice_is_the_interval_export_states(bench):
    u = _uncertainty([0.975, 0.985])
    assert bench.intervals(u)["wilson-twice"] == pytest.approx(tuple(u["test_interval"]), abs=1e-4)


def test_counting_the_validation_noise_once_narrows_and_the_t_shape_is_centred(bench):
    iv = bench.intervals(_uncertainty([0.94, 0.95]))
    width = {k: high - low for k, (low, high) in iv.items()}
    assert width["t-once"] < width["t-twice"]
    low, high = iv["t-twice"]
    assert high < 1 and (low + high) / 2 == pytest.approx(0.945, abs=1e-9)  # symmetric
    assert sum(iv["wilson-twice"]) / 2 < 0.945  # Wilson's shape sits lower near 100 %


def test_table_reads_both_benchmarks_and_counts_coverage(bench, tmp_path):
    u = _uncertainty([0.98, 0.99])
    (tmp_path / "pick").mkdir()
    run = {"picks": {"knee:ideal": {"trial": 4, "export": {"uncertainty": u}}}, "retrains": {"4": {"test_accuracy": 0.9}}}
    (tmp_path / "pick" / "seed0.json").write_text(json.dumps({"runs": {"0": run}}))
    small = tmp_path / "after" / "seed1" / "small_model"
    small.mkdir(parents=True)
    import yaml

    (small.parent / "small.yaml").write_text(yaml.safe_dump({"uncertainty": u}))
    (small / "model.yaml").write_text(yaml.safe_dump({"retrain": {"test_accuracy": 0.985}}))
    rows = bench.picks(tmp_path / "pick", tmp_path / "after")
    assert [(r[0], r[1], r[3]) for r in rows] == [(0, "knee:ideal", 0.9), (1, "small", 0.985)]
    text = bench.table(rows)
    assert "wilson-twice 1/2" in text and "t-once 1/2" in text and "over 2 picks" in text
