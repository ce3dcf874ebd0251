"""The fine-tuning learning-rate benchmark's summary table: each factor paired with 0.3 per seed."""

from __future__ import annotations

from tests.benchmark_helpers import load_benchmark


def test_summary_pairs_each_factor_with_the_old_default_per_seed():
    bench = load_benchmark("finetune_lr")
    rows = [{"width": 0.05, "ratio": 0.5, "seed": s, "factor": f, "params": 16966, "pruned_params": p,
             "epochs": 12, "test": t}
            for f, tests in ((0.3, (0.90, 0.94)), (1.0, (0.96, 0.97))) for s, (t, p) in enumerate(zip(tests, (4000, 4200), strict=True))]
    lines = bench.summary(rows)
    assert lines[0] == "| 17.0K -> 4.1K | 0.5 | 12 | 0.3 | 0.9200 ± 0.0200 |  |"
    assert lines[1].startswith("| 17.0K -> 4.1K | 0.5 | 12 | 1.0 | 0.9650 ± 0.0050 | +0.0450 ± 0.0150 |")
