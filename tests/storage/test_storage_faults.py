"""Storage failures and credentials: one clear line instead of Optuna's masked errors, and a
password in a storage URL never reaches output or logs."""

from __future__ import annotations

import sqlite3
from typing import Any

import optuna
import pytest

from scalesearch import cli
from scalesearch.errors import StorageError
from scalesearch.search.runtime.loop import work
from scalesearch.search.storage import storage
from scalesearch.search.storage.storage import redact, scrub, stored_study
from scalesearch.search.study.study import stored_spec
from tests.workers_helpers import (
    FAKE_SPEC,
    create_study,
    env,
    load,
    postgres_url,  # noqa: F401  (fixture)
    scalesearch,
    states,
    tiny_spec_data,
    write_spec,
)


def test_redact_and_scrub_hide_passwords():
    url = "postgresql://ann:pa55@db.example:5432/studies"
    assert redact(url) == "postgresql://ann:***@db.example:5432/studies"
    assert redact("postgresql://ann@db/x") == "postgresql://ann@db/x"
    assert redact("sqlite:///a.db") == "sqlite:///a.db"
    assert scrub(f"failed for {url} (password pa55)", url) == \
        "failed for postgresql://ann:***@db.example:5432/studies (password ***)"


def _locked(path: str) -> sqlite3.Connection:
    """Another process's long write transaction on the SQLite file."""
    conn = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


# Optuna's own heartbeat thread also hits the lock and reports it; that is expected here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_locked_sqlite_database_is_one_clear_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "s.db"
    url = f"sqlite:///{path}"
    create_study(url, tiny_spec_data("locked", n_trials=2))
    monkeypatch.setattr(storage, "SQLITE_BUSY_SECONDS", 0.2)
    lock = _locked(str(path))
    try:
        code = cli.main(["worker", "--storage", url, "--study-name", "locked"])
    finally:
        lock.close()
    out, err = capsys.readouterr()
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: storage error on {url}: database is locked; another process held the SQLite write lock "
        "longer than the busy timeout; for many workers use journal:///path.log (one host) or postgresql:// (many hosts)"
    ]
    assert "Traceback" not in out + err and "UnboundLocalError" not in err and "AssertionError" not in err


# Optuna's own heartbeat thread also hits the lock and reports it; that is expected here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_storage_failure_while_telling_is_not_masked(tmp_path, monkeypatch):
    """Optuna 5 hides a failed tell behind UnboundLocalError/AssertionError; the cause is named."""
    path = tmp_path / "s.db"
    url = f"sqlite:///{path}"
    create_study(url, FAKE_SPEC | {"study_name": "mid", "budget": {"n_trials": 3}})
    monkeypatch.setattr(storage, "SQLITE_BUSY_SECONDS", 0.2)
    study = load(url, "mid")
    locks: list[Any] = []

    def objective(trial: optuna.Trial) -> list[float]:
        x = trial.suggest_float("x", 0.0, 1.0)
        locks.append(_locked(str(path)))  # the storage locks up while the trial runs
        return [x, 1 - x]

    try:
        with pytest.raises(StorageError, match=r"^storage error on sqlite:///.*: database is locked; another process"):
            work(study, stored_spec(stored_study("mid", study._storage)), objective, storage_url=url)
    finally:
        for lock in locks:
            lock.close()
    assert states(load(url, "mid")) == {"RUNNING": 1}  # left for the heartbeat check; nothing corrupted


@pytest.mark.slow
@pytest.mark.postgres
def test_a_password_in_the_storage_url_never_reaches_output(tmp_path, request):
    secret = "s3cr3t-Pa55"
    base = request.getfixturevalue("postgres_url")
    user_host = base.removeprefix("postgresql://")
    user, _, host = user_host.partition("@")
    url = f"postgresql://{user}:{secret}@{host}"  # trust auth accepts any password
    spec = write_spec(tmp_path / "spec.yaml", tiny_spec_data("creds", n_trials=2))
    run = scalesearch("run", str(spec), "--storage", url, "--workers", "2", cwd=tmp_path)
    out, _ = run.communicate(timeout=600)
    assert run.returncode == 0, out
    assert secret not in out and f"postgresql://{user}:***@{host}" in out
    # A worker may take the URL from the environment instead of the command line.
    join = scalesearch("worker", "--study-name", "creds", env=env(SCALESEARCH_STORAGE=url), cwd=tmp_path)
    out, _ = join.communicate(timeout=600)
    assert join.returncode == 0 and "worker done: study has 2/2 trials finished" in out, out
    assert secret not in out
    bad = scalesearch("worker", "--study-name", "nosuch", env=env(SCALESEARCH_STORAGE=url), cwd=tmp_path)
    out, _ = bad.communicate(timeout=600)
    assert bad.returncode == 2 and out.startswith("error: study 'nosuch' not found in postgresql://") and secret not in out
    assert secret not in "".join(str(v) for v in load(base, "creds").user_attrs.values())


@pytest.mark.postgres
def test_a_bare_postgresql_url_opens_with_the_shipped_driver(request):
    """SQLAlchemy 2.1 maps postgresql:// to psycopg 3, which scalesearch does not ship."""
    url = request.getfixturevalue("postgres_url")
    assert url.startswith("postgresql://")
    study = optuna.create_study(storage=storage.open_storage(url), study_name="bare", directions=["maximize"])
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert len(load(url, "bare").trials) == 2
