"""Crashed workers: their trials end as FAIL, and their configs run again.

A worker killed mid-trial (SIGKILL, power loss, OOM killer) cannot mark its trial. So every
running trial beats, and any worker that finds a trial silent for longer than the grace period
fails it and re-enqueues its config (:class:`Retry`), which the next ``study.ask()`` picks up.

- SQLite and PostgreSQL: Optuna's own heartbeat (``RDBStorage(heartbeat_interval=...,
  grace_period=..., heartbeat_stale_trial_callback=Retry(...))``), swept with
  ``optuna.storages.fail_stale_trials`` before each trial and while a worker waits.
- Journal file (no heartbeat in Optuna): :class:`AttrHeartbeat` stores ``ss.heartbeat`` (epoch
  seconds) on the trial every interval from a background thread, and :func:`sweep_stale` fails
  RUNNING trials whose last beat (or start, before the first beat) is older than the grace
  period. Journal files are local, so writers and sweepers share one clock.

The settings come from the study spec's ``workers`` section, so every host uses the same ones.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from scalesearch.search.config import attrs, system_attrs


class Retry:
    """Re-enqueue a failed trial's parameters (at most ``max_retries`` times per config).

    Usable as Optuna's ``heartbeat_stale_trial_callback``. The new WAITING trial carries
    ``ss.retry_of`` (the failed trial's number), ``ss.retries`` and, when the failed trial had
    drawn one, ``ss.seed``: its training seed, which the rerun keeps (it is the same trial).
    """

    def __init__(self, max_retries: int):
        self.max_retries = max_retries

    def __call__(self, study: Any, trial: Any) -> None:
        import optuna

        retries = int(trial.user_attrs.get(attrs.RETRIES, 0))
        if not trial.params or retries >= self.max_retries:
            return
        user_attrs = {attrs.RETRY_OF: trial.number, attrs.RETRIES: retries + 1}
        seed = system_attrs.trial_config(trial).get("seed", trial.user_attrs.get(attrs.SEED))
        if seed is not None:
            user_attrs[attrs.SEED] = seed
        study.add_trial(optuna.trial.create_trial(
            state=optuna.trial.TrialState.WAITING, params=trial.params, distributions=trial.distributions,
            user_attrs=user_attrs,
        ))


class AttrHeartbeat:
    """A heartbeat for storages without one: ``ss.heartbeat`` on the trial every ``interval`` s."""

    def __init__(self, interval: float, grace: float, retry: Retry):
        self.interval, self.grace, self.retry = interval, grace, retry

    @contextlib.contextmanager
    def beating(self, trial: Any) -> Iterator[None]:
        """Beat for ``trial`` while the block runs (stops before the trial is told)."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.is_set():
                with contextlib.suppress(Exception):  # a missed beat is retried next interval
                    trial.set_user_attr(attrs.HEARTBEAT, time.time())
                stop.wait(self.interval)

        trial.set_user_attr(attrs.HEARTBEAT, time.time())
        thread = threading.Thread(target=beat, name=f"ss-heartbeat-{trial.number}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def sweep(self, study: Any) -> list[int]:
        return sweep_stale(study, self.grace, self.retry)


class OptunaHeartbeat:
    """Optuna's RDB heartbeat: its thread beats; :meth:`sweep` runs ``fail_stale_trials``.

    Optuna only judges trials that recorded a heartbeat; a worker killed between creating a trial
    and its first beat leaves one that never sampled a config, which :func:`sweep_unstarted` ends.
    """

    def __init__(self, grace: float = 60.0):
        self.grace = grace

    @contextlib.contextmanager
    def beating(self, trial: Any) -> Iterator[None]:
        yield

    def sweep(self, study: Any) -> list[int]:
        import warnings

        import optuna

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        return sweep_unstarted(study, self.grace)


def sweep_unstarted(study: Any, grace: float, now: float | None = None) -> list[int]:
    """Fail RUNNING trials older than ``grace`` s that never started (no worker, no params)."""
    import optuna

    now = time.time() if now is None else now
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        started = trial.datetime_start.timestamp() if trial.datetime_start else now
        if trial.params or attrs.WORKER in trial.user_attrs or now - started <= grace:
            continue
        with contextlib.suppress(ValueError, optuna.exceptions.UpdateFinishedTrialError):
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            failed.append(trial.number)
    return failed


def last_sign_of_life(trial: Any) -> float:
    """Epoch seconds of the trial's last heartbeat, or of its start before the first beat."""
    beat = trial.user_attrs.get(attrs.HEARTBEAT)
    if isinstance(beat, int | float):
        return float(beat)
    return trial.datetime_start.timestamp() if trial.datetime_start else time.time()


def sweep_stale(study: Any, grace: float, retry: Retry, now: float | None = None) -> list[int]:
    """Fail RUNNING trials silent for more than ``grace`` seconds; retry their configs.

    Returns the numbers this call failed. When two workers sweep at once, the storage accepts
    one FAIL; only that worker retries the config.
    """
    import optuna

    now = time.time() if now is None else now
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if now - last_sign_of_life(trial) <= grace:
            continue
        try:
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        except (ValueError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # another worker failed or finished it first
        failed.append(trial.number)
        retry(study, trial)
    return failed


def heartbeat_for(storage_url: str | None, interval: float, grace: float, retry: Retry) -> Any:
    """Optuna's heartbeat on SQLite/PostgreSQL; :class:`AttrHeartbeat` on anything else."""
    from scalesearch.search.storage.storage import resolve_url, scheme_of

    if scheme_of(resolve_url(storage_url)) in ("sqlite", "postgresql"):
        return OptunaHeartbeat(grace)
    return AttrHeartbeat(interval, grace, retry)
