"""benchmarks/bookkeeping.py at toy sizes: it fills one study per size, runs trials with an instant
trainer in rounds over the sizes, and splits each trial's wall time into work, sampler and
bookkeeping; TPE's own cost per proposal is measured apart."""

from __future__ import annotations

import pytest

from tests.benchmark_helpers import load_benchmark


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_bookkeeping_at_toy_sizes(tmp_path, monkeypatch):
    bk = load_benchmark("bookkeeping")
    monkeypatch.setenv(bk.LOCK_DIR_VAR, str(tmp_path))
    lines = []
    rows = bk.run_backend(f"sqlite:///{tmp_path}/bk.db", [3, 6], 2, "random", lines.append)
    assert [r["trials"] for r in rows] == [3, 6]
    for r in rows:
        assert r["wall"] > 0 and r["work"] > 0 and r["sampler"] >= 0 and r["tpe"] > 0
        assert r["bookkeeping"] == pytest.approx(r["wall"] - r["work"] - r["sampler"])
    assert any("study of 6 trials filled" in line for line in lines)
    assert sum("round" in line for line in lines) == 2  # the sizes ran interleaved, in rounds
    assert "| sqlite | ratio 6 / " in bk.table({"sqlite": rows}, "random")
