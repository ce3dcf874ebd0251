"""Study storages, chosen by URL scheme from one dict.

- ``sqlite:///path.db`` (default ``sqlite:///scalesearch.db``): WAL journal and a busy timeout,
  fine for a few local workers.
- ``journal:///path.log``: Optuna's append-only journal file, for many local workers.
- ``postgresql://user:pass@host/db``: for workers on many hosts.

``SCALESEARCH_STORAGE`` supplies the URL when none is given. Passwords are never printed:
use :func:`redact` whenever a URL is shown.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scalesearch.errors import StorageError

DEFAULT_URL = "sqlite:///scalesearch.db"
ENV_VAR = "SCALESEARCH_STORAGE"
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 60


def resolve_url(url: str | None) -> str:
    """The URL given, else ``$SCALESEARCH_STORAGE``, else the default SQLite file."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, at, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}{':***' if ':' in creds else ''}@{host}"


def _sqlite(url: str) -> Any:
    import optuna

    path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
    if path and path != ":memory:":
        file = Path(path)
        if file.is_dir():
            raise StorageError(f"storage: {path} is a directory; give a file, e.g. sqlite:///{path.rstrip('/')}/study.db")
        if not file.parent.exists():
            raise StorageError(f"storage: the folder {file.parent} does not exist; create it or pick another path")
        try:
            with sqlite3.connect(path, timeout=60) as conn:  # WAL persists in the file
                conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as e:
            raise StorageError(f"storage: {path} is not a usable SQLite database ({e}); pick another file") from None
    return optuna.storages.RDBStorage(
        url, engine_kwargs={"connect_args": {"timeout": 60}},
        heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
    )


def _postgresql(url: str) -> Any:
    import optuna

    return optuna.storages.RDBStorage(
        url, engine_kwargs={"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}},
        heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
    )


def _journal(url: str) -> Any:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    path = url.removeprefix("journal:").removeprefix("//")
    if not path:
        raise StorageError("storage: a journal URL needs a file, e.g. journal:///tmp/study.log")
    if not Path(path).parent.exists():
        raise StorageError(f"storage: the folder {Path(path).parent} does not exist; create it or pick another path")
    return optuna.storages.JournalStorage(JournalFileBackend(path))


BACKENDS: dict[str, Callable[[str], Any]] = {
    "sqlite": _sqlite,
    "postgresql": _postgresql,
    "journal": _journal,
}


def scheme_of(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


def open_storage(url: str | None = None) -> Any:
    """An Optuna storage for ``url``; one-line :class:`StorageError` for anything wrong."""
    url = resolve_url(url)
    scheme = scheme_of(url)
    if scheme not in BACKENDS or ":" not in url:
        raise StorageError(
            f"storage: cannot use {redact(url)!r}; use sqlite:///file.db, journal:///file.log or postgresql://user@host/db"
        )
    try:
        return BACKENDS[scheme](url)
    except StorageError:
        raise
    except Exception as e:  # sqlalchemy/optuna raise many kinds; the user needs one line
        reason = str(e).splitlines()[0] if str(e) else e.__class__.__name__
        raise StorageError(f"storage: cannot open {redact(url)}: {reason.replace(url, redact(url))}") from None
