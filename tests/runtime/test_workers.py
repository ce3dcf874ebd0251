"""Many worker processes on one study, on every storage: exact budget, crashes survived.

The end-to-end tests run the real CLI (``scalesearch run --workers 4``, ``scalesearch worker``)
with real, tiny training (resnet at 8x8 on digits, 2 epochs, one thread per worker).
"""

from __future__ import annotations

import signal
import sys

import optuna
import pytest

from scalesearch.search.config import attrs, system_attrs
from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.runtime.workers import (
    WorkerPlan,
    assign_device,
    plan_workers,
    threads_per_worker,
    worker_command,
    worker_seed,
)
from tests.workers_helpers import (
    BACKENDS,
    create_study,
    env,
    load,
    postgres_url,  # noqa: F401  (fixture)
    scalesearch,
    states,
    storage_url_for,
    tiny_spec_data,
    wait_for,
    write_spec,
)

State = optuna.trial.TrialState


# --------------------------------------------------------------------------- planning


@pytest.mark.parametrize(("device", "index", "gpus", "expected"), [
    ("auto", 0, 0, "cpu"), ("auto", 3, 0, "cpu"), ("cpu", 1, 2, "cpu"),
    ("auto", 0, 2, "cuda:0"), ("auto", 1, 2, "cuda:1"), ("auto", 2, 2, "cuda:0"), ("cuda", 5, 4, "cuda:1"),
    ("cuda:1", 0, 4, "cuda:1"), ("cuda:1", 3, 4, "cuda:1"),  # told otherwise: stays
    ("auto", None, 2, "cuda:0"),
])
def test_workers_get_gpus_round_robin_unless_told_otherwise(device, index, gpus, expected):
    assert assign_device(device, index, gpus) == expected


def test_threads_are_split_between_workers():
    assert threads_per_worker(None, 4, 16) == 4
    assert threads_per_worker(None, 3, 2) == 1  # never zero
    assert threads_per_worker(2, 4, 16) == 2  # the spec's per-worker threads win


def test_each_worker_seeds_its_sampler_differently():
    assert [worker_seed(7, i) for i in range(3)] == [7, 8, 9]
    assert worker_seed(None, 2) is None and worker_seed(7, None) is None


def test_plans_and_commands_never_carry_the_storage_url():
    spec = spec_from_data(tiny_spec_data(threads=None))
    plans = plan_workers(3, spec, cores=8, devices=["cuda:0", "cuda:2"])
    assert plans == [WorkerPlan(0, 2, "cuda:0"), WorkerPlan(1, 2, "cuda:2"), WorkerPlan(2, 2, "cuda:0")]
    cmd = worker_command("s", plans[1], graceful=True, timeout=60.0)
    assert cmd[:4] == [sys.executable, "-m", "scalesearch.cli", "worker"]
    assert cmd[4:] == ["--study-name", "s", "--index", "1", "--threads", "2", "--device", "cuda:2",
                       "--graceful", "--timeout", "60.0"]
    assert not any("://" in part for part in cmd)  # the URL (and its password) travels in the environment


# --------------------------------------------------------------------------- end to end


def _assert_exact(study: optuna.Study, n_trials: int) -> None:
    counts = states(study)
    assert counts.get("COMPLETE", 0) + counts.get("PRUNED", 0) == n_trials, counts
    assert counts.get("RUNNING", 0) == 0, counts
    for t in study.get_trials(states=(State.COMPLETE,)):
        metrics = attrs.trial_metrics(t.user_attrs)
        assert len(t.values) == 2 and all(v == v for v in t.values)
        assert {"accuracy", "params", "flops", "latency_ms", "size_mb"} <= set(metrics)
        assert system_attrs.trial_config(t)["family"] == "resnet" and t.user_attrs[attrs.WORKER]


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_four_workers_reach_the_budget_exactly(backend, tmp_path, request):
    url = storage_url_for(backend, tmp_path, request)
    name = f"four-{backend}-{tmp_path.name}"
    spec = write_spec(tmp_path / "spec.yaml", tiny_spec_data(name, n_trials=8))
    proc = scalesearch("run", str(spec), "--storage", url, "--workers", "4", cwd=tmp_path)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    study = load(url, name)
    _assert_exact(study, 8)
    assert states(study).get("FAIL", 0) == 0, out  # 0 errors, and no trial lost a race for a slot
    assert len({t.user_attrs[attrs.WORKER] for t in study.trials}) >= 2  # the work was shared
    assert "8/8 trials finished" in out and "Traceback" not in out
    for i in range(4):
        assert f"w{i} worker done: study has 8/8 trials finished (budget reached)." in out


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a hang guard only (two processes training on a busy machine)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_killed_worker_trial_is_failed_and_its_config_rerun(backend, tmp_path, request):
    url = storage_url_for(backend, tmp_path, request)
    name = f"kill-{backend}-{tmp_path.name}"
    data = tiny_spec_data(name, n_trials=3, epochs=6)
    # Grace = 20 beats: a live worker on a busy machine beats late, not that late (4 s was not).
    data["workers"] = {"heartbeat_seconds": 1, "grace_seconds": 20, "max_retries": 2}
    data["early_stopping"] = {"name": "none"}  # the rerun must train in full, not be ranked away
    create_study(url, data)
    victim = scalesearch("worker", "--study-name", name, "--index", "0", env=env(SCALESEARCH_STORAGE=url))
    survivor = scalesearch("worker", "--study-name", name, "--index", "1", env=env(SCALESEARCH_STORAGE=url))
    study = load(url, name)

    def victim_training():
        for t in study.get_trials(deepcopy=False, states=(State.RUNNING,)):
            if t.user_attrs.get(attrs.WORKER, "").endswith(f":{victim.pid}") and system_attrs.trial_config(t):
                return t
        return None

    while True:  # events, not timing: freeze the victim, and kill it only if still in its trial
        killed = wait_for(victim_training, 600, every=0.05, what="the victim worker to train a trial")
        victim.send_signal(signal.SIGSTOP)
        if study.get_trials(deepcopy=False)[killed.number].state == State.RUNNING:
            break
        victim.send_signal(signal.SIGCONT)  # it finished that trial first: catch its next one
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=60)
    out, _ = survivor.communicate(timeout=600)
    assert survivor.returncode == 0, out
    study = load(url, name)
    _assert_exact(study, 3)
    dead = study.trials[killed.number]
    assert dead.state == State.FAIL  # not RUNNING forever
    reruns = [t for t in study.trials if t.user_attrs.get(attrs.RETRY_OF) == killed.number]
    assert len(reruns) == 1 and reruns[0].state == State.COMPLETE
    assert reruns[0].params == dead.params and reruns[0].user_attrs[attrs.WORKER].endswith(f":{survivor.pid}")
    assert "Traceback" not in out


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a hang guard only (two processes training on a busy machine)
def test_ctrl_c_stops_every_worker_cleanly_and_run_resumes(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    name = "ctrl-c"
    spec = write_spec(tmp_path / "spec.yaml", tiny_spec_data(name, n_trials=2, epochs=40))
    proc = scalesearch("run", str(spec), "--storage", url, "--workers", "2", cwd=tmp_path)

    def both_training():
        try:
            running = load(url, name).get_trials(states=(State.RUNNING,))
        except Exception:  # the study does not exist yet
            return False
        return len([t for t in running if system_attrs.trial_config(t)]) == 2

    wait_for(both_training, 900, what="both workers to train a trial")
    proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends to `run`
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert f"resume with: scalesearch run --storage {url} --study-name {name}" in out and "Traceback" not in out
    study = load(url, name)
    interrupted = study.get_trials(states=(State.FAIL,))
    assert len(interrupted) == 2 and all(t.user_attrs[attrs.FAIL_REASON] == "interrupted" for t in interrupted)
    assert states(study) == {"FAIL": 2, "WAITING": 2}  # consistent: nothing left RUNNING

    resume = scalesearch("run", "--storage", url, "--study-name", name, cwd=tmp_path)
    out, _ = resume.communicate(timeout=600)
    assert resume.returncode == 0, out
    study = load(url, name)
    _assert_exact(study, 2)
    # Each interrupted config ran again (to the end, or stopped early by the study's rule).
    finished = study.get_trials(states=(State.COMPLETE, State.PRUNED))
    reruns = {t.user_attrs[attrs.RETRY_OF]: t.params for t in finished}
    assert reruns == {t.number: t.params for t in interrupted}


