"""Study storages, chosen by URL scheme from one dict.

- ``sqlite:///path.db`` (default ``sqlite:///scalesearch.db``): WAL journal and a busy timeout,
  fine for a few local workers.
- ``journal:///path.log``: Optuna's append-only journal file, for many local workers.
- ``postgresql://user:pass@host/db``: for workers on many hosts.

``SCALESEARCH_STORAGE`` supplies the URL when none is given. Passwords are never printed:
use :func:`redact` whenever a URL is shown.

SQLite and PostgreSQL record Optuna heartbeats for running trials (:class:`Heartbeat`); a trial
whose worker stops beating is failed by the next worker that looks, and ``on_stale`` may retry
it. The journal file has no heartbeat table: ``search/runtime/liveness.py`` gives it an equivalent.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalesearch.errors import StorageError
from scalesearch.search.storage.heartbeat_spec import GRACE_SECONDS, HEARTBEAT_SECONDS

DEFAULT_URL = "sqlite:///scalesearch.db"
ENV_VAR = "SCALESEARCH_STORAGE"
SQLITE_BUSY_SECONDS = 60.0  # how long a SQLite writer waits for another's lock


@dataclass(frozen=True)
class Heartbeat:
    """How running trials prove they are alive (Optuna's RDB heartbeat settings)."""

    interval: int = HEARTBEAT_SECONDS
    grace: int = GRACE_SECONDS
    on_stale: Callable[[Any, Any], None] | None = None  # (study, failed frozen trial), e.g. retry


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


def scrub(text: str, url: str) -> str:
    """``text`` with the password of ``url`` (if any) replaced by ``***`` wherever it appears."""
    creds = url.partition("://")[2].rpartition("@")[0]
    password = creds.partition(":")[2]
    return text.replace(url, redact(url)).replace(password, "***") if password else text


def _rdb(url: str, heartbeat: Heartbeat, **engine_kwargs: Any) -> Any:
    import inspect

    import optuna

    # Optuna >= 4.9 names the retry hook heartbeat_stale_trial_callback; older: failed_trial_callback.
    hook = ("heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback"
            in inspect.signature(optuna.storages.RDBStorage).parameters else "failed_trial_callback")
    return optuna.storages.RDBStorage(
        url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat.interval,
        grace_period=heartbeat.grace, **{hook: heartbeat.on_stale},
    )


def _sqlite(url: str, heartbeat: Heartbeat, create: bool) -> Any:
    path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
    if path and path != ":memory:":
        file = Path(path)
        if not create and not file.exists():
            raise StorageError(f"storage: {path} does not exist; check the path (scalesearch run creates a study)")
        if file.is_dir():
            raise StorageError(f"storage: {path} is a directory; give a file, e.g. sqlite:///{path.rstrip('/')}/study.db")
        if not file.parent.exists():
            raise StorageError(f"storage: the folder {file.parent} does not exist; create it or pick another path")
        try:
            with sqlite3.connect(path, timeout=SQLITE_BUSY_SECONDS) as conn:  # WAL persists in the file
                conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as e:
            if "locked" not in str(e):
                raise StorageError(f"storage: cannot open {path} ({e}); check the path and its permissions") from None
            raise StorageError(f"storage: {path} is locked by another process for longer than "
                               f"{SQLITE_BUSY_SECONDS:g}s; retry when it is done") from None
        except sqlite3.DatabaseError as e:
            raise StorageError(f"storage: {path} is not a usable SQLite database ({e}); pick another file") from None
    return _rdb(url, heartbeat, connect_args={"timeout": SQLITE_BUSY_SECONDS})


def _postgresql(url: str, heartbeat: Heartbeat, create: bool) -> Any:
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; we ship psycopg2 (psycopg2-binary).
    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None:
        url = "postgresql+psycopg2://" + url[len("postgresql://"):]
    return _rdb(url, heartbeat, pool_pre_ping=True, connect_args={"connect_timeout": 10})


def _journal(url: str, heartbeat: Heartbeat, create: bool) -> Any:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    path = url.removeprefix("journal:").removeprefix("//")
    if not path:
        raise StorageError("storage: a journal URL needs a file, e.g. journal:///tmp/study.log")
    if not Path(path).parent.exists():
        raise StorageError(f"storage: the folder {Path(path).parent} does not exist; create it or pick another path")
    if not create and not Path(path).exists():
        raise StorageError(f"storage: {path} does not exist; check the path (scalesearch run creates a study)")
    if Path(path).is_dir():
        raise StorageError(f"storage: {path} is a directory; give a file, e.g. journal:///{path.rstrip('/')}/study.log")
    return optuna.storages.JournalStorage(JournalFileBackend(path))


BACKENDS: dict[str, Callable[[str, Heartbeat, bool], Any]] = {
    "sqlite": _sqlite,
    "postgresql": _postgresql,
    "journal": _journal,
}


def scheme_of(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


def stored_study(study_name: str, storage: Any, sampler: Any = None) -> Any:
    """``optuna.load_study(study_name, storage)``, with the storage public as ``study.storage``.

    ``optuna.Study`` keeps its storage private (``_storage``); scalesearch reaches study and trial
    system attrs (search/config/system_attrs.py) and trial ids only through the public
    ``BaseStorage`` methods of the storage it opened itself. KeyError when there is no such study.
    """
    return _stored_study_class()(study_name, storage, sampler)


@functools.cache
def _stored_study_class() -> type:
    import optuna  # not at import time: the CLI's light commands never load it

    class StoredStudy(optuna.Study):
        """An ``optuna.Study`` whose storage is public: ``study.storage``."""

        def __init__(self, study_name: str, storage: Any, sampler: Any = None) -> None:
            super().__init__(study_name, storage, sampler)
            self.storage = storage

    return StoredStudy


def open_storage(url: str | None = None, *, heartbeat: Heartbeat = Heartbeat(), create: bool = True) -> Any:
    """An Optuna storage for ``url``; one-line :class:`StorageError` for anything wrong.

    ``create=False`` refuses a SQLite or journal file that does not exist yet, instead of
    creating an empty one (for commands that only read or join a study).
    """
    url = resolve_url(url)
    scheme = scheme_of(url)
    if scheme not in BACKENDS or ":" not in url:
        raise StorageError(
            f"storage: cannot use {redact(url)!r}; use sqlite:///file.db, journal:///file.log or postgresql://user@host/db"
        )
    try:
        return BACKENDS[scheme](url, heartbeat, create)
    except StorageError:
        raise
    except Exception as e:  # sqlalchemy/optuna raise many kinds; the user needs one line
        reason = str(e).splitlines()[0] if str(e) else e.__class__.__name__
        hint = "; check that the server is up and the URL's user, host, port and database" if scheme == "postgresql" else ""
        raise StorageError(f"storage: cannot open {redact(url)}: {scrub(reason, url)}{hint}") from None
