"""benchmarks/inspection_overhead.py: each arm runs in a process of its own and reports the hook's
own time, so the pair compares like with like."""

from __future__ import annotations

import pytest

from tests.benchmark_helpers import load_benchmark


@pytest.mark.slow
def test_one_run_in_its_own_process_reports_the_hooks_time(tmp_path):
    bench = load_benchmark("inspection_overhead")
    overrides = ["budget.n_trials=1", "space.training.epochs=1", "threads=1", "device=cpu",
                 "measure.latency_repeats=2", "measure.latency_warmup=1"]
    wall, hook = bench.in_own_process(None, overrides, tmp_path, True)
    assert wall > hook > 0  # the hook wrote the study note, the trial note and the figures
    wall, hook = bench.in_own_process(None, overrides, tmp_path, False)
    assert wall > 0 and hook == 0
    assert {p.name for p in tmp_path.iterdir()} == {"hooked.db", "plain.db"}
