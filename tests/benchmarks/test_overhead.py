"""benchmarks/overhead.py: the bare loop builds the same models and samples the same configs as
scalesearch, so the ratio compares the same work."""

from __future__ import annotations

import pytest

from tests.benchmark_helpers import load_benchmark


@pytest.mark.parametrize(("family", "width", "depth"), [("resnet", 0.03125, 0.5), ("resnet", 0.37, 1.0),
                                                       ("convnext", 0.25, 0.34), ("convnext", 0.93, 0.5)])
def test_the_bare_loop_builds_the_models_scalesearch_builds(family, width, depth):
    from scalesearch.spaces.registry import ModelInput, get_family

    bare = load_benchmark("overhead").bare_model(family, width, depth)
    knobs = {"width_multiplier": width, "depth_multiplier": depth} | ({"block": "basic"} if family == "resnet" else {})
    ours = get_family(family).build(ModelInput(10, 1, 8), **knobs)
    assert [tuple(p.shape) for p in bare.parameters()] == [tuple(p.shape) for p in ours.parameters()]


def test_the_bare_data_has_the_default_splits_sizes():
    from scalesearch.search.datasets import load_dataset

    tx, ty, vx, vy = load_benchmark("overhead").bare_data()
    ours = load_dataset("digits")
    assert (len(ty), len(vy)) == (len(ours.train), len(ours.val))
    assert tuple(tx.shape[1:]) == (1, 8, 8) and abs(float(tx.mean())) < 1e-4


def test_the_summary_flags_different_configs_and_computes_ratios(monkeypatch):
    overhead = load_benchmark("overhead")
    fake = {"a": [{"wall": 12.0, "cpu": 22.0, "n": 2, "in_trial": 10.0, "configs": [1]}],
            "b": [{"wall": 10.0, "cpu": 20.0, "n": 2, "in_trial": 8.0, "configs": [2]}]}
    monkeypatch.setattr(overhead, "run_arm", lambda arm, *a: fake[arm][0])
    s = overhead.side_by_side(2, 1, 1, say=lambda _: None)
    assert s["ratio_wall"] == pytest.approx(1.2) and s["ratio_in_trial"] == pytest.approx(1.25)
    assert s["ratio_cpu"] == pytest.approx(1.1) and s["median_paired_wall_ratio"] == pytest.approx(1.2)
    assert s["same_configs"] is False and "NO" in overhead.table(s) and "CPU time" in overhead.table(s)


def test_children_cpu_counts_a_finished_child():
    import subprocess
    import sys

    overhead = load_benchmark("overhead")
    before = overhead._children_cpu()
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True)
    assert overhead._children_cpu() - before > 0.05
