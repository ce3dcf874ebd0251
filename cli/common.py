"""What every command shares: the console, quiet Optuna logs, tables, common flags."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from typing import Any

from scalesearch.errors import EXIT_INTERRUPTED, ScalesearchError


def console() -> Any:
    from rich.console import Console

    # Logs and pipes get wide tables instead of rich's 80-column default.
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def quiet_optuna() -> None:
    """Our own progress replaces Optuna's per-trial log lines; experimental-API notices for
    features we pin (heartbeats, metric names, grouped TPE) are not actionable for users."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def quiet_trials() -> None:
    """Runs report each failed trial once, with its stored reason, on our own progress line;
    Optuna's per-failure warning (with a traceback) would repeat it."""
    import optuna

    quiet_optuna()
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def table(rows: list[dict[str, Any]], title: str, formats: dict[str, Callable[[Any], str]] | None = None) -> Any:
    from scalesearch.search.results.tables import table

    return table(rows, title, formats)


def interrupted(error: BaseException, url: str, study_name: str) -> int:
    from scalesearch.search.storage.storage import redact

    what = str(error) or "interrupted"
    print(f"{what}\nresume with: scalesearch run --storage {redact(url)} --study-name {study_name}", file=sys.stderr)
    return EXIT_INTERRUPTED


def pick_study_name(storage: Any, name: str | None) -> str:
    import optuna

    if name:
        return name
    names = optuna.get_all_study_names(storage)  # summaries would read every trial of every study
    if len(names) == 1:
        return names[0]
    listing = ", ".join(sorted(names)) if names else "none"
    raise ScalesearchError(f"--study-name is needed: this storage holds {len(names)} studies ({listing})")


def add_storage(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage", metavar="URL",
                   help="sqlite:///file.db (default sqlite:///scalesearch.db, or $SCALESEARCH_STORAGE), "
                        "journal:///file.log or postgresql://user@host/db")


def add_study_name(p: argparse.ArgumentParser) -> None:
    p.add_argument("--study-name", help="needed when the storage holds several studies")


def add_stopping(p: argparse.ArgumentParser) -> None:
    p.add_argument("--graceful", action="store_true",
                   help="on Ctrl-C/SIGTERM finish the running trial, then stop (again: stop now); "
                        "default: stop now, storing the trial as FAIL (interrupted) to rerun on resume")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="stop starting trials after SECONDS")
