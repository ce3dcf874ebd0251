"""Dead workers' trials: failed after the grace period, their configs retried (fast, in-process)."""

from __future__ import annotations

import time

import optuna
import pytest

from scalesearch.search.config import attrs
from scalesearch.search.runtime.liveness import (
    AttrHeartbeat,
    OptunaHeartbeat,
    Retry,
    heartbeat_for,
    sweep_stale,
    sweep_unstarted,
)
from scalesearch.search.runtime.loop import work
from scalesearch.search.storage.storage import stored_study
from scalesearch.search.study.study import stored_spec
from tests.workers_helpers import FAKE_SPEC, create_study, load, wait_for

State = optuna.trial.TrialState


def _running(study: optuna.Study, x: float, beat: float | None) -> optuna.Trial:
    study.enqueue_trial({"x": x})
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    if beat is not None:
        trial.set_user_attr(attrs.HEARTBEAT, beat)
    return trial


def test_retry_enqueues_the_same_params_and_counts_retries():
    study = optuna.create_study()
    trial = _running(study, 0.25, None)
    study.tell(trial, state=State.FAIL)
    retry = Retry(max_retries=1)
    retry(study, study.trials[0])
    waiting = study.get_trials(states=(State.WAITING,))
    assert len(waiting) == 1 and waiting[0].params == {"x": 0.25}
    assert waiting[0].user_attrs == {attrs.RETRY_OF: 0, attrs.RETRIES: 1}
    # The retry runs the same config...
    again = study.ask()
    assert again.number == 1 and again.suggest_float("x", 0.0, 1.0) == 0.25
    study.tell(again, state=State.FAIL)
    # ...and a config is not retried more than max_retries times.
    retry(study, study.trials[1])
    assert study.get_trials(states=(State.WAITING,)) == []


def test_retry_skips_a_trial_that_never_sampled_a_config():
    study = optuna.create_study()
    study.tell(study.ask(), state=State.FAIL)
    Retry(2)(study, study.trials[0])
    assert len(study.trials) == 1


def test_sweep_fails_only_silent_trials_and_retries_each_once():
    study = optuna.create_study()
    now = time.time()
    _running(study, 0.1, beat=now - 30)  # silent for 30 s
    _running(study, 0.2, beat=now - 1)  # alive
    assert sweep_stale(study, grace=10, retry=Retry(2), now=now) == [0]
    assert sweep_stale(study, grace=10, retry=Retry(2), now=now) == []  # a second sweeper finds nothing
    assert [t.state for t in study.trials] == [State.FAIL, State.RUNNING, State.WAITING]
    assert study.trials[2].params == {"x": 0.1} and study.trials[2].user_attrs[attrs.RETRY_OF] == 0


def test_sweep_uses_the_start_time_before_the_first_beat():
    study = optuna.create_study()
    _running(study, 0.3, beat=None)
    assert sweep_stale(study, grace=10, retry=Retry(2)) == []
    assert sweep_stale(study, grace=10, retry=Retry(2), now=time.time() + 11) == [0]


def test_a_trial_that_never_started_is_failed_after_the_grace_period():
    study = optuna.create_study()
    study.ask()  # its worker died right after creating it: no worker attr, no params
    started = study.ask()
    started.set_user_attr(attrs.WORKER, "host:1")  # a live worker's trial, not yet sampled
    heartbeat = OptunaHeartbeat(grace=10)
    assert heartbeat.sweep(study) == []
    assert sweep_unstarted(study, 10, now=time.time() + 11) == [0]
    assert [t.state for t in study.trials] == [State.FAIL, State.RUNNING]


def test_attr_heartbeat_beats_while_the_block_runs_and_stops_after():
    study = optuna.create_study()
    trial = study.ask()
    heartbeat = AttrHeartbeat(interval=0.05, grace=1, retry=Retry(0))
    with heartbeat.beating(trial):
        first = study.trials[0].user_attrs[attrs.HEARTBEAT]
        # A busy machine may delay the beat thread: wait for the next beat, however late.
        later = wait_for(lambda: study.trials[0].user_attrs[attrs.HEARTBEAT] > first, 600, every=0.02,
                         what="a second beat")
    assert later
    stopped = study.trials[0].user_attrs[attrs.HEARTBEAT]
    time.sleep(0.15)
    assert study.trials[0].user_attrs[attrs.HEARTBEAT] == stopped


@pytest.mark.parametrize(("url", "kind"), [
    ("sqlite:///x.db", OptunaHeartbeat), ("postgresql://u@h/db", OptunaHeartbeat),
    ("journal:///x.log", AttrHeartbeat),
])
def test_each_storage_gets_the_heartbeat_it_supports(url, kind):
    assert isinstance(heartbeat_for(url, 1, 3, Retry(1)), kind)


def test_a_live_worker_fails_a_dead_journal_trial_and_reruns_its_config(tmp_path):
    url = f"journal:///{tmp_path / 'study.log'}"
    create_study(url, FAKE_SPEC | {"study_name": "dead", "budget": {"n_trials": 3},
                                   "workers": {"heartbeat_seconds": 1, "grace_seconds": 2}})
    dead = load(url, "dead")
    last_beat = time.time()
    orphan = _running(dead, 0.75, beat=last_beat)  # its worker "dies" now: no more beats
    orphan.set_user_attr(attrs.SLOT, "claim")
    study, spec = load(url, "dead"), stored_spec(stored_study("dead", dead._storage))
    seen: list[float] = []

    def objective(trial: optuna.Trial) -> list[float]:
        x = trial.suggest_float("x", 0.0, 1.0)
        seen.append(x)
        return [x, 1 - x]

    result = work(study, spec, objective, storage_url=url, poll_seconds=0.1)
    assert result.stopped_by == "budget" and result.finished == 3
    trials = study.trials
    assert trials[0].state == State.FAIL
    # Nothing is failed before the grace period, counted from the last beat (not from when work began).
    assert trials[0].datetime_complete.timestamp() - last_beat > 2
    rerun = [t for t in trials if t.user_attrs.get(attrs.RETRY_OF) == 0]
    assert len(rerun) == 1 and rerun[0].state == State.COMPLETE and rerun[0].params == {"x": 0.75}
    assert 0.75 in seen
    assert not study.get_trials(states=(State.RUNNING, State.WAITING))


def test_a_trial_ended_by_another_worker_does_not_stop_this_one(tmp_path):
    url = f"journal:///{tmp_path / 'study.log'}"
    create_study(url, FAKE_SPEC | {"study_name": "stolen", "budget": {"n_trials": 2}})
    study = load(url, "stolen")
    spec = stored_spec(stored_study("stolen", study._storage))
    other = load(url, "stolen")  # another worker's view, that (wrongly) finds trial 0 stale
    notices: list[str] = []

    def objective(trial: optuna.Trial) -> list[float]:
        x = trial.suggest_float("x", 0.0, 1.0)
        if trial.number == 0:
            other.tell(0, state=State.FAIL)
        return [x, 1 - x]

    result = work(study, spec, objective, storage_url=url, notice=notices.append, poll_seconds=0.1)
    assert result.stopped_by == "budget" and result.finished == 2
    assert study.trials[0].state == State.FAIL
    assert notices and "ended by another worker" in notices[0]
