"""search/runtime/packing.py: how many workers share one GPU."""

from __future__ import annotations

import math

import pytest

from scalesearch.search.runtime.packing import (
    CONTEXT_MB,
    fits_in_memory,
    recommend_workers,
    workers_for_memory,
)
from scalesearch.search.runtime.workers import assign_device


def test_more_workers_than_gpus_are_packed_round_robin():
    assert [assign_device("auto", i, 2) for i in range(5)] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"]
    assert [assign_device("cuda", i, 1) for i in range(3)] == ["cuda:0"] * 3
    assert assign_device("auto", 3, 0) == "cpu"


def test_the_fewest_workers_that_reach_the_best_rate_are_recommended():
    assert recommend_workers({1: 100.0, 2: 180.0, 4: 300.0, 8: 305.0}) == 4  # 8 is within 5 % of 4
    assert recommend_workers({1: 100.0, 2: 90.0}) == 1
    assert recommend_workers({}) is None
    assert recommend_workers({1: math.nan}) is None


def test_memory_rules_out_counts_that_do_not_fit():
    rates = {1: 100.0, 2: 180.0, 4: 300.0, 8: 400.0}
    free = 4 * (1000 + CONTEXT_MB) / 0.8  # exactly four trials of 1000 MB
    assert recommend_workers(rates, free_mb=free, peak_mb=1000.0) == 4
    assert fits_in_memory(4, free, 1000.0) and not fits_in_memory(5, free, 1000.0)
    assert fits_in_memory(64, None, 1000.0)


@pytest.mark.parametrize(("free_mb", "peak_mb", "expected"), [(140_000, 200, 8), (2000, 200, 2), (100, 5000, 1)])
def test_workers_for_memory_is_bounded(free_mb, peak_mb, expected):
    assert workers_for_memory(free_mb, peak_mb) == expected


# ----------------------------------------------------------------- run --workers auto (issue 17)


def test_auto_workers_pack_by_free_memory_and_the_measured_peak():
    from scalesearch.search.runtime.packing import HEADROOM, auto_workers

    assert auto_workers("cpu", [], 500.0) == 1  # a CPU machine keeps one worker
    assert auto_workers("cpu", [80_000.0], 500.0) == 1
    assert auto_workers("cuda:0", [80_000.0], None) == 1  # nothing measured yet: one per GPU
    assert auto_workers("cuda", [80_000.0, 80_000.0], None) == 2
    assert auto_workers("cuda:0", [140_000.0], 400.0) == 8  # a small model on an H200: the cap
    # 10 GB free, 2 GB a trial: floor(0.8 * 10000 / 2600) = 3 per GPU; the least free GPU decides.
    assert auto_workers("cuda", [10_000.0, 40_000.0], 2000.0) == 2 * int(HEADROOM * 10_000 // (2000 + CONTEXT_MB))
    assert auto_workers("cuda:0", [1_000.0], 5_000.0) == 1  # never fewer than one


def test_study_peak_is_the_largest_finished_trials_peak():
    import optuna

    from scalesearch.search.config import attrs
    from scalesearch.search.runtime.packing import study_peak_mb

    study = optuna.create_study()
    assert study_peak_mb(study) is None
    for peak in (300.0, 900.5, None):
        trial = study.ask()
        if peak is not None:
            trial.set_user_attr(attrs.metric_key("gpu_peak_mb"), peak)
        study.tell(trial, 0.5)
    running = study.ask()
    running.set_user_attr(attrs.metric_key("gpu_peak_mb"), 5000.0)  # not finished: not counted yet
    assert study_peak_mb(study) == 900.5


def test_workers_auto_on_a_cpu_machine_runs_one_worker(tmp_path, monkeypatch):
    from scalesearch.search.study import launch
    from tests.conftest import TINY_OVERRIDES

    class Console:
        lines: list[str] = []

        def print(self, text, **_):
            self.lines.append(text)

    run = launch.open_run(None, console=Console(), storage=f"sqlite:///{tmp_path / 'a.db'}",
                          overrides=[*TINY_OVERRIDES, "device=cpu"], workers="auto")
    assert run.workers == 1
    # The same study on a (faked) GPU host with a measured peak packs; where the spec cannot run
    # several workers (here: a device this host lacks), auto falls back to 1.
    monkeypatch.setattr("scalesearch.search.runtime.packing.free_gpu_mb", lambda: [80_000.0])
    monkeypatch.setattr("scalesearch.search.runtime.packing.study_peak_mb", lambda study: 400.0)
    monkeypatch.setattr("scalesearch.search.runtime.preflight.preflight", lambda *a, **k: None)
    assert launch.auto_worker_count(run.study, run.spec, ["cuda:0"]) == 8
    monkeypatch.setattr("scalesearch.search.runtime.preflight.preflight",
                        lambda *a, **k: (_ for _ in ()).throw(launch.SpecError("no such device")))
    assert launch.auto_worker_count(run.study, run.spec, ["cuda:0"]) == 1


def test_workers_flag_takes_a_count_or_auto():
    import argparse

    from scalesearch.cli.run import workers_arg

    assert workers_arg("3") == 3 and workers_arg("auto") == "auto"
    with pytest.raises(argparse.ArgumentTypeError, match="a number or 'auto'"):
        workers_arg("many")
