"""benchmarks/device_check.sh: the GPU check's sections, their order and their share of the 8
minutes; ``--cpu-smoke`` runs every section with the GPU run's studies and workers (on the CPU,
tiny), prints one table and writes its JSON; without a GPU the full check refuses in one line."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from tests.benchmark_helpers import BENCHMARKS, load_benchmark

SECTIONS = ["bf16_vs_fp32", "latency", "int8_cpu", "default_study", "packing"]


@pytest.fixture(scope="module")
def dc():
    return load_benchmark("device_check")


def test_the_smoke_run_counts_the_same_work_as_the_gpu_run(dc):
    assert {k: dc.SMOKE[k] for k in dc.COUNTS} == {k: dc.FULL[k] for k in dc.COUNTS}
    cfg = dc.SMOKE
    assert 1 + len(cfg["packing"]) == 5  # CLI studies: the default study and one per worker count
    assert 1 + sum(cfg["packing"]) == 16  # worker processes
    assert cfg["n_trials"] + cfg["trials_per_worker"] * sum(cfg["packing"]) == 69  # trials
    assert dc.FULL["budget"] < dc.LIMIT_SECONDS and dc.SMOKE["budget"] is None  # the GPU run stops itself first


def test_the_sections_that_may_not_fit_run_last(dc):
    assert [name for name, _, _ in dc.SECTIONS] == SECTIONS
    flags = [may_not_fit for _, _, may_not_fit in dc.SECTIONS]
    assert flags == sorted(flags) and flags[-2:] == [True, True]


def test_the_table_gives_each_sections_share_of_the_limit_and_flags_the_last(dc, tmp_path, monkeypatch, capsys):
    def fake(seconds):
        def section(report, cfg, work):
            report.row("fake", "item", 1.5)
            return {"took": seconds}
        return section

    ticks = [0.0, 48.0, 48.0, 168.0]  # monotonic() at each section's start and end (no deadline: smoke)
    monkeypatch.setattr(dc.time, "monotonic", lambda: ticks.pop(0) if len(ticks) > 1 else ticks[0])
    monkeypatch.setattr(dc, "SECTIONS", [("quick", fake(48), False), ("long", fake(120), True)])
    monkeypatch.setattr(dc, "machine_facts", lambda device: {"gpu": f"none on {device}", "torch": "2.x"})
    out = tmp_path / "dc.json"
    assert dc.main(["--cpu-smoke", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert [[c.strip() for c in line.split("|")] for line in text.splitlines()[2:4]] == [  # first, under the header
        ["machine", "gpu", "none on cpu", ""], ["machine", "torch", "2.x", ""]]
    lines = {line.split("|")[0].strip() + "/" + line.split("|")[1].strip(): line for line in text.splitlines()
             if line.count("|") == 3}
    assert "48 s = 10%" in lines["quick/time, share of 8 min"] and "may not fit" not in lines["quick/time, share of 8 min"]
    assert "120 s = 25%" in lines["long/time, share of 8 min"] and "may not fit" in lines["long/time, share of 8 min"]
    assert "168 s = 35%" in lines["total/time, share of 8 min"]
    data = json.loads(out.read_text())
    assert data["machine"] == {"gpu": "none on cpu", "torch": "2.x"}
    assert data["sections"]["long"] | {"status": "ok"} == {"status": "ok", "seconds": 120.0, "share": 0.25,
                                                         "may_not_fit": True, "took": 120}


def test_a_cli_study_stops_starting_trials_before_the_deadline(dc, monkeypatch):
    calls = []

    class Done:
        returncode, stdout, stderr = 0, "", ""

    monkeypatch.setattr(dc.subprocess, "run", lambda args, **kw: calls.append((args, kw["timeout"])) or Done())
    dc._run_cli(["run", "x.yaml"], 200.0)
    dc._run_cli(["run", "x.yaml"], math.inf)  # the smoke run: no deadline
    assert calls[0][0][-2:] == ["--timeout", str(200 - dc.TRIAL_MARGIN)] and calls[0][1] == 200.0
    assert "--timeout" not in calls[1][0] and calls[1][1] is None


@pytest.mark.slow
@pytest.mark.timeout(2400)  # 5 CLI studies, 16 worker processes, 69 trials: long on a loaded 2-core machine
def test_cpu_smoke_runs_every_section_with_the_gpu_runs_counts(tmp_path):
    import torch

    from scalesearch.search.runtime.packing import recommend_workers

    out = tmp_path / "dc.json"
    proc = subprocess.run(["bash", str(BENCHMARKS / "device_check.sh"), "--cpu-smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=2300, env={"PYTHON": sys.executable,
                                                                             "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    sections = data["sections"]
    assert data["mode"] == "cpu-smoke" and list(sections) == SECTIONS
    assert {name: s["status"] for name, s in sections.items()} == dict.fromkeys(SECTIONS, "ok")
    assert len(sections["bf16_vs_fp32"]["pairs"]) == 3
    assert len(sections["latency"]["models"]) == 6  # 2 models x fp32, bf16, fp16
    default = sections["default_study"]
    assert default["complete"] + default["pruned"] == 24 and default["failed"] == 0
    runs = sections["packing"]["runs"]
    assert {int(n): r["complete"] + r["pruned"] for n, r in runs.items()} == {1: 3, 2: 6, 4: 12, 8: 24}
    peaks = [r["peak_gpu_mb"] for r in runs.values() if r["peak_gpu_mb"]]
    assert sections["packing"]["recommended"] == recommend_workers(
        {int(n): r["trials_per_hour"] for n, r in runs.items()}, free_mb=sections["packing"]["free_mb"],
        peak_mb=max(peaks) if peaks else None)
    int8 = sections["int8_cpu"]
    n = int8["val_samples"]
    assert n == 128 and int8["agreement"] == int8["agree"] / n and int8["int8_accuracy"] == int8["int8_correct"] / n
    # Where the int8 model agrees with its float self both are right or both wrong: the counts of
    # right answers differ by at most the predictions that differ.
    assert abs(int8["int8_correct"] - int8["float_cpu_correct"]) <= n - int8["agree"]
    assert sections["bf16_vs_fp32"]["amp"] == "fp32"  # the CPU has no bf16 autocast: the table says so
    assert data["machine"]["gpu"] == "none (CPU run)" and data["machine"]["torch"] == torch.__version__
    for name, s in sections.items():
        assert s["share"] == round(s["seconds"] / 480, 3)
        assert f"\n{name} " in proc.stdout and s["may_not_fit"] == (name in ("default_study", "packing"))
    assert proc.stdout.splitlines()[0].split("|")[0].strip() == "section"
    assert "\ntotal " in proc.stdout


def test_the_full_check_needs_a_gpu(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code = load_benchmark("device_check").main(["--out", str(tmp_path / "x.json")])
    assert code == 2
    assert capsys.readouterr().out.strip().startswith("error: no CUDA device here")


def test_packing_gives_each_worker_count_an_equal_part_of_the_time_left(dc, tmp_path, monkeypatch):
    stops: list[float] = []
    report = dc.Report(tmp_path / "dc.json", "cuda", None)
    monkeypatch.setattr(report, "left", lambda: 400.0 - 100.0 * len(stops))  # each run takes 100 s
    monkeypatch.setattr(dc, "_run_cli", lambda args, left, stop_after=None: stops.append(stop_after) or (0, 1.0, ""))
    monkeypatch.setattr(dc, "_study_facts", lambda url, name: {"complete": 1, "pruned": 0, "failed": 0,
                                                                 "trials_per_hour": 10.0, "peak_gpu_mb": None})
    dc.packing(report, dc.SMOKE, tmp_path)
    margin = dc.TRIAL_MARGIN
    assert stops == [(400 - margin) / 4, (300 - margin) / 3, (200 - margin) / 2, (100 - margin) / 1]
    notes = [r["note"] for r in report.data["rows"] if "trials/hour" in r["item"]]
    assert notes[0].endswith("cut short: 1 of 3 trials before the limit")


def test_the_default_study_gets_its_share_and_leaves_packing_the_rest(dc, tmp_path, monkeypatch):
    stops: list[float | None] = []
    report = dc.Report(tmp_path / "dc.json", "cuda", None)
    monkeypatch.setattr(report, "left", lambda: 360.0)
    monkeypatch.setattr(dc, "_run_cli", lambda args, left, stop_after=None: stops.append(stop_after) or (0, 1.0, ""))
    monkeypatch.setattr(dc, "_study_facts", lambda url, name: {"complete": 24, "pruned": 0, "failed": 0,
                                                                 "trials_per_hour": 10.0, "peak_gpu_mb": None,
                                                                 "best_accuracy": 0.9})
    dc.default_study(report, dc.FULL, tmp_path)
    assert stops == [dc.DEFAULT_STUDY_SHARE * (360 - dc.TRIAL_MARGIN)]  # it used to get all 360 - 60 s
    assert 0 < dc.DEFAULT_STUDY_SHARE <= 0.5  # packing, after it, keeps at least as much
    monkeypatch.setattr(report, "left", lambda: math.inf)  # the smoke run: no deadline, no share
    dc.default_study(report, dc.SMOKE, tmp_path)
    assert stops[-1] is None


@pytest.mark.parametrize("capability, dtype, amp", [((7, 0), "float32 (autocast off)", "fp32"),
                                                    ((9, 0), "bfloat16", "bf16")])
def test_the_machine_rows_say_which_gpu_and_which_autocast_dtype_ran(dc, monkeypatch, capability, dtype, amp):
    """A V100 (7.0) trains its "bf16" runs in float32 (speed.autocast_dtype): the table says so."""
    import torch

    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    facts = dc.machine_facts("cuda:0")
    assert (facts["gpu"], facts["compute capability"], facts["autocast dtype (amp=True)"]) == (
        "Fake GPU", ".".join(map(str, capability)), dtype)
    assert facts["torch"] == torch.__version__ and len(facts["load average at start, 1/5/15 min"].split(" / ")) == 3
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=BENCHMARKS.parent).stdout.strip()
    assert facts["commit"].removesuffix("+dirty") == head
    assert dc._amp_name("cuda:0") == amp
