"""The study-wide budget with many workers: exactly n_trials finished trials, never N x n.

The race tests start real worker processes (spawned) that share one storage and run a fake
objective that takes 0-20 ms, so many of them ask for the last slots at the same moment.
"""

from __future__ import annotations

import multiprocessing
import time

import optuna
import pytest

from scalesearch.search.config import attrs
from scalesearch.search.runtime.budget import CLAIM, YIELD, BudgetCovered, Snapshot, admit, snapshot
from tests.workers_helpers import (
    BACKENDS,
    FAKE_SPEC,
    create_study,
    fake_worker,
    load,
    postgres_url,  # noqa: F401  (fixture)
    states,
    storage_url_for,
)


def test_action_follows_rule_one():
    assert Snapshot(finished=5, running=0, claims=0).action(5) == "done"
    assert Snapshot(finished=3, running=2, claims=2).action(5) == "wait"
    assert Snapshot(finished=3, running=1, claims=1).action(5) == "ask"


def _study(n_running: int, n_complete: int) -> optuna.Study:
    study = optuna.create_study(directions=["maximize", "minimize"])
    for _ in range(n_complete):
        trial = study.ask()
        study.tell(trial, [0.5, 0.5])
    running = [study.ask() for _ in range(n_running)]
    for trial in running:
        trial.set_user_attr(attrs.SLOT, CLAIM)
    return study


def test_a_trial_keeps_its_claim_when_a_slot_is_free():
    study = _study(n_running=1, n_complete=2)
    trial = study.ask()
    admit(study, trial, n_trials=4)
    assert study.trials[trial.number].user_attrs[attrs.SLOT] == CLAIM
    assert snapshot(study) == Snapshot(finished=2, running=2, claims=2)


def test_a_trial_that_finds_the_budget_covered_yields_then_ends_as_surplus():
    study = _study(n_running=1, n_complete=2)
    trial = study.ask()
    blocker = study.trials[0 + 2]  # the running trial that holds the last slot
    waits = []

    def finish_blocker() -> None:  # while our trial waits, the other one completes
        waits.append(study.trials[trial.number].user_attrs[attrs.SLOT])
        study.tell(blocker.number, [0.5, 0.5])

    with pytest.raises(BudgetCovered, match="surplus"):
        admit(study, trial, n_trials=3, wait=lambda s: None, on_wait=finish_blocker)
    assert waits == [YIELD]
    assert study.trials[trial.number].user_attrs[attrs.SLOT] == YIELD


def test_a_failed_trial_frees_its_slot_for_a_waiting_one():
    study = _study(n_running=1, n_complete=2)
    trial = study.ask()
    blocker = study.trials[2]
    admit_rounds = []

    def fail_blocker() -> None:
        admit_rounds.append(1)
        study.tell(blocker.number, state=optuna.trial.TrialState.FAIL)

    admit(study, trial, n_trials=3, wait=lambda s: None, on_wait=fail_blocker)
    assert admit_rounds == [1]
    assert study.trials[trial.number].user_attrs[attrs.SLOT] == CLAIM


def test_a_deadline_ends_the_wait():
    study = _study(n_running=1, n_complete=0)
    trial = study.ask()
    with pytest.raises(BudgetCovered, match="timeout"):
        admit(study, trial, n_trials=1, wait=lambda s: None, deadline=time.monotonic() - 1)


@pytest.mark.parametrize("host_lock", [True, False], ids=["one-host", "many-hosts"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_four_racing_workers_finish_exactly_the_budget(backend, host_lock, tmp_path, request):
    url = storage_url_for(backend, tmp_path, request)
    name = f"race-{backend}-{host_lock}-{tmp_path.name}"
    n_trials = 24
    create_study(url, FAKE_SPEC | {"study_name": name, "budget": {"n_trials": n_trials}})
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.starmap(fake_worker, [(url, name, 0.02, seed, host_lock) for seed in range(4)], chunksize=1)
    study = load(url, name)
    counts = states(study)
    assert counts.get("COMPLETE", 0) + counts.get("PRUNED", 0) == n_trials, counts
    assert counts.get("RUNNING", 0) == 0 and counts.get("WAITING", 0) == 0, counts
    assert all(stopped == "budget" and finished == n_trials for finished, _, _, stopped in results), results
    failed = study.get_trials(states=(optuna.trial.TrialState.FAIL,))
    if host_lock:  # workers on one host never race for a slot
        assert failed == []
    else:  # across hosts, a trial that lost the race for the last slot ends unused, never trained
        assert all(t.user_attrs[attrs.FAIL_REASON].startswith("surplus") for t in failed)
        assert all(t.user_attrs.get(attrs.SLOT) == YIELD for t in failed)
        assert sum(r[2] for r in results) == len(failed)
    print(f"{backend} host_lock={host_lock}: {len(failed)} surplus trial(s) of {len(study.trials)}")
    for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        assert len(t.values) == 2 and "x" in t.params and t.user_attrs[attrs.SLOT] == CLAIM
