"""Shared test helpers for workers, storages and bad input: real storages (SQLite, journal file,
PostgreSQL on 127.0.0.1:5432), tiny specs, subprocess workers, and study inspection.

PostgreSQL: each test session creates a fresh database and drops it afterwards. When the server
is unreachable the tests that need it skip locally, but fail when ``SCALESEARCH_REQUIRE_SERVICES=1``
(set by CI), so a missing service can never pass silently.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_PARENT = Path(__file__).resolve().parents[2]  # the folder holding the `scalesearch` package
PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_USERS = ("postgres", "root")
REQUIRE_SERVICES = os.environ.get("SCALESEARCH_REQUIRE_SERVICES") == "1"
#: Every storage backend, as test parameters (PostgreSQL ones carry the ``postgres`` marker).
BACKENDS = [pytest.param("sqlite"), pytest.param("journal"),
            pytest.param("postgresql", marks=pytest.mark.postgres)]

TINY_SPACE = {
    "name": "tiny",
    "input_size": 8,
    "families": {"resnet": {"width_multiplier": {"low": 0.0625, "high": 0.125, "log": True},
                            "depth_multiplier": 0.5, "block": "basic"}},
    "training": {"lr": {"low": 1.0e-3, "high": 1.0e-2, "log": True}, "epochs": 2, "batch_size": 64},
}


def tiny_spec_data(name: str = "tiny", n_trials: int = 4, epochs: int = 2, **extra: Any) -> dict[str, Any]:
    """A real but tiny study: resnet at 8x8 on digits, CPU, one thread, fast crash detection."""
    space = {**TINY_SPACE, "training": {**TINY_SPACE["training"], "epochs": epochs}}
    return {
        "study_name": name, "space": space, "budget": {"n_trials": n_trials},
        "sampler": {"name": "random", "seed": 0}, "device": "cpu", "threads": 1,
        "measure": {"latency_repeats": 2, "latency_warmup": 1, "latency_batch_size": 8},
        # Grace = 20 beats, so a live worker on a busy machine is not taken for dead.
        "workers": {"heartbeat_seconds": 1, "grace_seconds": 20, "max_retries": 2},
        **extra,
    }


def write_spec(path: Path, data: dict[str, Any]) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(data))
    return path


# --------------------------------------------------------------------------- PostgreSQL


def _pg_admin() -> tuple[Any, str] | None:
    """A psycopg2 connection to the server's ``postgres`` database and the user that worked."""
    import psycopg2

    for user in PG_USERS:
        for db in ("postgres", "test"):
            try:
                conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=user, dbname=db, connect_timeout=3)
            except psycopg2.OperationalError:
                continue
            conn.autocommit = True
            return conn, user
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database for this test session (dropped afterwards)."""
    admin = _pg_admin()
    if admin is None:
        message = f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT} (users tried: {', '.join(PG_USERS)})"
        if REQUIRE_SERVICES:
            pytest.fail(message + "; SCALESEARCH_REQUIRE_SERVICES=1 requires it")
        pytest.skip(message)
    conn, user = admin
    name = f"ss_test_{uuid.uuid4().hex[:12]}"
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


def storage_url_for(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh storage URL of ``backend`` (PostgreSQL: a new study name keeps tests apart)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    if backend == "journal":
        return f"journal:///{tmp_path / 'study.log'}"
    return request.getfixturevalue("postgres_url")


# --------------------------------------------------------------------------- processes


def env(**extra: str) -> dict[str, str]:
    """Environment for a child ``scalesearch`` process that imports this checkout."""
    path = os.pathsep.join(p for p in (str(REPO_PARENT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", **extra}


def scalesearch(*args: str, **popen: Any) -> subprocess.Popen[str]:
    """Start ``python -m scalesearch.cli ARGS`` with stdout+stderr captured as text."""
    return subprocess.Popen([sys.executable, "-m", "scalesearch.cli", *args], env=popen.pop("env", env()),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def load(url: str, name: str) -> Any:
    import optuna

    from scalesearch.search.storage.storage import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(url, create=False))


def states(study: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return counts


def wait_for(predicate: Any, timeout: float, every: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def create_study(url: str, data: dict[str, Any]) -> Any:
    """Create the study for ``data`` (a spec) in ``url``; returns the study."""
    from scalesearch.search.config.spec import spec_from_data
    from scalesearch.search.study.study import open_study

    return open_study(spec_from_data(data), url)[0]


# --------------------------------------------------------------------------- fake workers

#: A spec whose trials need no torch: the race tests drive `work()` with a fake objective.
FAKE_SPEC = {"study_name": "race", "space": TINY_SPACE, "sampler": {"name": "random", "seed": None},
             "workers": {"heartbeat_seconds": 1, "grace_seconds": 10}}


def _start_together(folder: str, n: int, me: int, timeout: float = 300.0) -> None:
    """Mark this worker ready in ``folder`` and wait until ``n`` are. Spawned workers import torch
    at different speeds on a busy machine; without this, the first one up can run a short budget
    alone before the others ask for a trial."""
    Path(folder, f"ready-{me}").touch()
    deadline = time.monotonic() + timeout
    while len(list(Path(folder).glob("ready-*"))) < n and time.monotonic() < deadline:
        time.sleep(0.02)


def fake_worker(url: str, name: str, sleep_max: float, seed: int, host_lock: bool = True,
                together: tuple[str, int] | None = None) -> tuple[int, int, int, str]:
    """One worker process: ``work()`` with an objective that sleeps 0..sleep_max seconds.

    ``host_lock=False`` disables the per-host ask lock, as if every worker ran on its own host,
    so only the claim rule keeps the budget exact. ``together=(folder, n)`` starts the work only
    once ``n`` workers have opened the study (see :func:`_start_together`). Module-level so
    multiprocessing's spawn can import it; returns the WorkResult's fields.
    """
    import random

    from scalesearch.search.runtime import loop
    from scalesearch.search.runtime.loop import work
    from scalesearch.search.study.study import open_study

    if not host_lock:
        class NoLock(loop.AskLock):
            def acquire(self) -> None:
                pass

        loop.AskLock = NoLock  # type: ignore[misc]

    study, spec = open_study(None, url, name)
    if together is not None:
        _start_together(*together, me=seed)
    rng = random.Random(seed)

    def objective(trial: Any) -> list[float]:
        x = trial.suggest_float("x", 0.0, 1.0)
        time.sleep(rng.random() * sleep_max)
        return [x, 1.0 - x]

    result = work(study, spec, objective, storage_url=url, poll_seconds=0.05)
    return result.finished, result.failed, result.surplus, result.stopped_by
