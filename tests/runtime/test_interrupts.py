"""Ctrl-C / SIGTERM: the running trial ends as FAIL "interrupted", storage stays consistent, and
running the study again resumes it, rerunning the interrupted config first."""

from __future__ import annotations

import os
import signal
import time
import types
from typing import Any

import optuna
import pytest

from scalesearch.search.config import attrs, system_attrs
from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.runtime.interrupts import Interrupted, Interrupts
from scalesearch.search.study.study import load_data, open_study, run_study
from scalesearch.search.training.train import TrainResult
from tests.workers_helpers import create_study, load, scalesearch, states, tiny_spec_data, wait_for

State = optuna.trial.TrialState


def test_a_signal_outside_a_safe_point_waits_for_one():
    with Interrupts() as interrupts:
        os.kill(os.getpid(), signal.SIGINT)  # e.g. while Optuna writes a trial
        assert interrupts.stop_requested
        with pytest.raises(KeyboardInterrupt), interrupts.interruptible():
            pass  # raised on entering the next safe point


def test_a_signal_inside_a_safe_point_interrupts_at_once():
    with Interrupts() as interrupts, pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        interrupts.sleep(0.01)
        with interrupts.interruptible():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
            pytest.fail("not interrupted")


def _fake_storage_call():
    """A function whose code claims to live in optuna/storages; it sends SIGINT to itself."""
    def write(sleep, seconds):
        os.kill(os.getpid(), signal.SIGINT)
        sleep(seconds)
        return "written"

    fake = os.path.join(os.sep, "site-packages", "optuna", "storages", "_fake.py")
    return types.FunctionType(write.__code__.replace(co_filename=fake), {"os": os, "signal": signal})


def test_a_signal_inside_a_storage_call_waits_for_it_to_finish():
    storage_write = _fake_storage_call()
    steps: list[str] = []
    with Interrupts() as interrupts, pytest.raises(KeyboardInterrupt), interrupts.interruptible():
        steps.append(storage_write(time.sleep, 0.2))  # not cut short
        time.sleep(2)  # the re-delivered signal lands here
        steps.append("not interrupted")
    assert steps == ["written"]


def test_graceful_lets_the_first_signal_finish_the_trial_and_the_second_stop_now():
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when started in the background (`cmd &`)
    notices: list[str] = []
    with Interrupts(graceful=True, notice=notices.append) as interrupts:
        with interrupts.interruptible():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        assert interrupts.stop_requested and "finishing the running trial" in notices[0]
        with pytest.raises(KeyboardInterrupt), interrupts.interruptible():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored


@pytest.fixture(scope="module")
def data() -> Any:
    spec = spec_from_data(tiny_spec_data())
    return load_data(spec.dataset, spec.space.input_size, "cpu")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_trial_is_failed_and_rerun_on_resume(tmp_path, data, sig):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study, spec = open_study(spec_from_data(tiny_spec_data("stop", n_trials=3)), url)
    configs: dict[int, Any] = {}

    def interrupting(model, data_, cfg, device, on_epoch=None) -> TrainResult:
        if cfg.seed == 1:  # the second trial is interrupted mid-training
            os.kill(os.getpid(), sig)
            time.sleep(5)
        return TrainResult(0.9, [0.9], 1, 0.01, 0.1)

    with pytest.raises(Interrupted, match="trial 1 was stopped and stored as FAIL"):
        run_study(study, spec, data=data, device="cpu", trainer=interrupting, storage_url=url)
    interrupted = study.trials[1]
    assert interrupted.state == State.FAIL and interrupted.user_attrs[attrs.FAIL_REASON] == "interrupted"
    assert states(study) == {"COMPLETE": 1, "FAIL": 1, "WAITING": 1}
    configs["interrupted"] = interrupted.params

    # Resume: the same study, a fresh process's view of it.
    study, spec = open_study(None, url, "stop")
    summary = run_study(study, spec, data=data, device="cpu", trainer=_ok, storage_url=url)
    assert summary.finished == 3 and summary.stopped_by == "budget"
    rerun = study.trials[2]
    assert rerun.user_attrs[attrs.RETRY_OF] == 1 and rerun.params == configs["interrupted"]
    assert rerun.state == State.COMPLETE
    assert states(study) == {"COMPLETE": 3, "FAIL": 1}


def _ok(model, data_, cfg, device, on_epoch=None) -> TrainResult:
    return TrainResult(0.9, [0.9], 1, 0.01, 0.1)


@pytest.mark.slow
@pytest.mark.parametrize("graceful", [False, True])
def test_sigterm_stops_a_worker_process_cleanly(tmp_path, graceful):
    url = f"journal:///{tmp_path / 'study.log'}"
    create_study(url, tiny_spec_data("term", n_trials=2, epochs=40))
    proc = scalesearch("worker", "--storage", url, "--study-name", "term", *(["--graceful"] if graceful else []))
    study = load(url, "term")
    wait_for(lambda: any(t.user_attrs.get("ss.accuracy") is None and system_attrs.trial_config(t)
                         for t in study.get_trials(states=(State.RUNNING,))), 600, what="a trial in training")
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "Traceback" not in out
    assert "resume with: scalesearch run --storage journal:///" in out
    trial = load(url, "term").trials[0]
    if graceful:
        assert "finishing the running trial" in out
        assert trial.state == State.COMPLETE
    else:
        assert trial.state == State.FAIL and trial.user_attrs[attrs.FAIL_REASON] == "interrupted"
    assert not load(url, "term").get_trials(states=(State.RUNNING,))
