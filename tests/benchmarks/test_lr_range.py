"""The learning-rate range benchmark's table: a header, then one row per model and lr, mean ± SE over seeds."""

from __future__ import annotations

from tests.benchmark_helpers import load_benchmark


def test_summary_rows_per_model_and_lr_in_lr_order():
    bench = load_benchmark("lr_range")
    rows = [{"model": "resnet w=0.03125 d=0.5", "lr": lr, "seed": s, "params": 5470, "test": t}
            for lr, tests in ((8e-3, (0.98, 0.99)), (1e-3, (0.70, 0.72))) for s, t in enumerate(tests)]
    assert bench.summary(rows)[2:] == ["| resnet w=0.03125 d=0.5 | 5.5K | 0.001 | 0.7100 ± 0.0100 |",
                                   "| resnet w=0.03125 d=0.5 | 5.5K | 0.008 | 0.9850 ± 0.0050 |"]
