"""search/runtime/device_share.py: trainers share a device, a latency measurement has it alone
(or says it did not), across processes of one host."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from scalesearch.search.runtime.device_share import DeviceShare, shared_trainer

CTX = multiprocessing.get_context("fork")


def _trainer(directory: str, started, stop, log, count, between: bool) -> None:
    """A fake worker: 'epochs' of 30 ms holding the device shared; logs (start, end) of each
    and counts them in ``count``."""
    share = DeviceShare("cpu", directory)
    with share.training():
        started.set()
        while not stop.is_set():
            begun = time.monotonic()
            time.sleep(0.03)
            log.put((begun, time.monotonic()))
            with count.get_lock():
                count.value += 1
            if between:
                share.between_epochs()


def _start(tmp_path, between: bool):
    started, stop, log, count = CTX.Event(), CTX.Event(), CTX.Queue(), CTX.Value("i", 0)
    proc = CTX.Process(target=_trainer, args=(str(tmp_path), started, stop, log, count, between), daemon=True)
    proc.start()
    assert started.wait(60), "the fake trainer did not start"
    return proc, stop, log, count


def _wait_for_epochs(count, at_least: int) -> None:
    """Wait (on the trainer's epoch count, not on a clock) until it has run ``at_least`` epochs."""
    deadline = time.monotonic() + 60
    while count.value < at_least:
        assert time.monotonic() < deadline, f"the fake trainer ran {count.value} epochs, not {at_least}"
        time.sleep(0.005)


def _stop(proc, stop, log, count) -> list[tuple[float, float]]:
    stop.set()
    proc.join(60)
    return [log.get(timeout=60) for _ in range(count.value)]


def test_alone_when_nobody_trains(tmp_path):
    with DeviceShare("cpu", str(tmp_path)).exclusive(wait_seconds=5) as contended:
        assert contended is False


def test_a_measurement_runs_between_other_workers_epochs_and_no_epoch_overlaps_it(tmp_path):
    proc, stop, log, count = _start(tmp_path, between=True)
    try:
        _wait_for_epochs(count, 2)  # a few epochs in
        asked = time.monotonic()
        with DeviceShare("cpu", str(tmp_path)).exclusive(wait_seconds=60) as contended:
            began = time.monotonic()
            time.sleep(0.2)  # "measuring"
            ended = time.monotonic()
        _wait_for_epochs(count, count.value + 1)  # the trainer goes on after the measurement
    finally:
        epochs = _stop(proc, stop, log, count)
    assert contended is False
    assert len([e for e in epochs if e[0] < asked]) >= 2
    assert [e for e in epochs if e[0] >= ended] != []  # it resumed once the measurement was done
    overlapping = [e for e in epochs if e[0] < ended and e[1] > began]
    assert overlapping == []
    # The gate: once a measurement asks, at most the epoch already starting runs before it.
    assert len([e for e in epochs if asked <= e[0] <= began]) <= 1


def test_a_trainer_that_never_pauses_makes_the_measurement_contended(tmp_path):
    proc, stop, log, count = _start(tmp_path, between=False)
    try:
        with DeviceShare("cpu", str(tmp_path)).exclusive(wait_seconds=0.2) as contended:
            pass
    finally:
        _stop(proc, stop, log, count)
    assert contended is True


def test_measuring_inside_ones_own_training_is_contended_and_does_not_deadlock(tmp_path):
    share = DeviceShare("cpu", str(tmp_path))
    with share.training(), share.exclusive(wait_seconds=60) as contended:
        assert contended is True


def test_shared_trainer_passes_everything_through_and_pauses_between_epochs(tiny_data, fake_trainer, monkeypatch):
    from scalesearch.search.runtime import device_share as module

    pauses, reports = [], []
    share = DeviceShare("cpu", None)
    monkeypatch.setattr(share, "between_epochs", lambda: pauses.append(1))
    monkeypatch.setattr(module, "device_share", lambda device: share)
    from scalesearch.search.training.train import TrainConfig
    from scalesearch.spaces.registry import ModelInput, get_family

    model = get_family("resnet").build(ModelInput(10, 1, 8), width_multiplier=0.0625, depth_multiplier=0.5)
    result = shared_trainer(fake_trainer)(model, tiny_data, TrainConfig(epochs=3), "cpu", reports.append)
    assert result.epochs_run == 3 and len(reports) == 3 and len(pauses) == 3
    assert len(fake_trainer.calls) == 1


@pytest.mark.parametrize("objectives", [["accuracy", "params"]])
def test_trials_record_whether_their_latency_was_contended(objectives, storage_url, tiny_data, fake_trainer):
    from scalesearch.search.config.spec import load_spec
    from scalesearch.search.study.study import open_study, run_study
    from tests.conftest import TINY_OVERRIDES

    study, spec = open_study(load_spec(None, [*TINY_OVERRIDES, "budget.n_trials=2"]), storage_url)
    run_study(study, spec, data=tiny_data, device="cpu", trainer=fake_trainer)
    trials = study.get_trials()
    assert len(trials) == 2
    assert all(t.user_attrs["ss.latency_contended"] is False for t in trials)
    assert all("ss.gpu_peak_mb" not in t.user_attrs for t in trials)  # CPU: no GPU memory to report
