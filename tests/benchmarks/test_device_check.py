"""benchmarks/device_check.sh --cpu-smoke: every section of the GPU check runs (on the CPU, tiny),
prints one table and writes its JSON; without a GPU the full check refuses in one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.benchmark_helpers import BENCHMARKS, load_benchmark

SECTIONS = ["default_study", "bf16_vs_fp32", "packing", "latency", "int8_cpu"]


@pytest.mark.slow
@pytest.mark.timeout(900)  # three CLI runs (one with two workers): slow on a loaded 2-core machine
def test_cpu_smoke_runs_every_section_and_writes_json(tmp_path):
    out = tmp_path / "dc.json"
    proc = subprocess.run(["bash", str(BENCHMARKS / "device_check.sh"), "--cpu-smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=480, env={"PYTHON": sys.executable,
                                                                            "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["mode"] == "cpu-smoke"
    assert {name: s["status"] for name, s in data["sections"].items()} == dict.fromkeys(SECTIONS, "ok")
    assert data["sections"]["packing"]["recommended"] in (1, 2)
    assert 0 <= data["sections"]["int8_cpu"]["agreement"] <= 1
    assert len(data["sections"]["latency"]["models"]) == 4  # 2 models x fp32, bf16
    header = proc.stdout.splitlines()[0]
    assert header.split("|")[0].strip() == "section"
    for name in SECTIONS:
        assert f"\n{name}" in proc.stdout


def test_the_full_check_needs_a_gpu(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code = load_benchmark("device_check").main(["--out", str(tmp_path / "x.json")])
    assert code == 2
    assert capsys.readouterr().out.strip().startswith("error: no CUDA device here")
