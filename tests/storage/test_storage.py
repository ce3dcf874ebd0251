"""Storage URLs: every backend opens; bad URLs are one-line errors; secrets are redacted."""

from __future__ import annotations

import optuna
import pytest

from scalesearch.errors import StorageError
from scalesearch.search.storage.storage import BACKENDS, open_storage, redact, resolve_url


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://alice:s3cret@db:5432/x", "postgresql://alice:***@db:5432/x"),
    ("postgresql+psycopg2://alice@db/x", "postgresql+psycopg2://alice@db/x"),
    ("sqlite:///a.db", "sqlite:///a.db"),
])
def test_redact_hides_passwords(url, shown):
    assert redact(url) == shown


def test_env_var_supplies_the_url(monkeypatch):
    monkeypatch.setenv("SCALESEARCH_STORAGE", "sqlite:///from-env.db")
    assert resolve_url(None) == "sqlite:///from-env.db"
    assert resolve_url("sqlite:///given.db") == "sqlite:///given.db"


def _local_url(scheme, tmp_path):
    return {"sqlite": f"sqlite:///{tmp_path / 's.db'}", "journal": f"journal:///{tmp_path / 's.log'}",
            "postgresql": None}[scheme]


@pytest.mark.parametrize("scheme", sorted(set(BACKENDS) - {"postgresql"}))
def test_local_backends_hold_a_study(scheme, tmp_path):
    storage = open_storage(_local_url(scheme, tmp_path))
    study = optuna.create_study(storage=storage, study_name="s", directions=["maximize", "minimize"])
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=2)
    assert len(optuna.load_study(study_name="s", storage=storage).trials) == 2


def test_sqlite_uses_wal(tmp_path):
    import sqlite3

    open_storage(f"sqlite:///{tmp_path / 'w.db'}")
    assert sqlite3.connect(tmp_path / "w.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(("url", "needle"), [
    ("mysql://x", "cannot use 'mysql://x'"),
    ("not a url", "cannot use"),
    ("sqlite:////no/such/folder/x.db", "the folder /no/such/folder does not exist"),
    ("journal:///no/such/folder/x.log", "does not exist"),
    ("postgresql://bob:hunter2@127.0.0.1:1/db", "cannot open postgresql://bob:***@127.0.0.1:1/db"),
])
def test_bad_urls_are_one_line_storage_errors(url, needle):
    with pytest.raises(StorageError) as info:
        open_storage(url)
    assert needle in str(info.value) and "\n" not in str(info.value) and "hunter2" not in str(info.value)


def test_a_file_that_is_not_sqlite(tmp_path):
    bad = tmp_path / "notes.db"
    bad.write_text("hello, not a database " * 100)
    with pytest.raises(StorageError, match="not a usable SQLite database"):
        open_storage(f"sqlite:///{bad}")
    assert bad.read_text().startswith("hello")
