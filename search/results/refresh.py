"""Keep what optuna-dashboard shows current while a study runs: notes and figures.

:class:`Refresh` is an Optuna trial callback (``run_study(on_trial_end=...)``; ``scalesearch run``
and every ``scalesearch worker`` use it). After each finished trial it writes that trial's note;
the study note and the figures (``search/results/figures.py``) are rebuilt while the time spent on
them stays within ``share`` (1 %) of the run's wall time so far, and once more by :meth:`finish`,
so a long study pays a bounded share and the last view is always current. It never fails a
trial: an error is reported once as a warning and the run goes on.

    refresh = Refresh(spec, url)
    refresh.start(study)
    run_study(study, spec, on_trial_end=refresh)
    refresh.finish(study)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from scalesearch.search.config.spec import StudySpec

log = logging.getLogger("scalesearch")
SHARE = 0.01  # of the run's wall time, for the study note and figures


class Refresh:
    def __init__(self, spec: StudySpec, storage_url: str, *, share: float = SHARE,
                 warn: Callable[[str], None] = log.warning, figures: bool = True):
        self.spec, self.storage_url, self.share, self.warn = spec, storage_url, share, warn
        self.figures = figures
        self.started = time.monotonic()
        self.spent = 0.0  # seconds spent refreshing, all of it (start, per trial, finish)
        self.study_cost = 0.0  # seconds the last study refresh took
        self.stale = False  # a trial finished since the study note and figures were written
        self._warned: set[str] = set()

    def start(self, study: Any) -> None:
        """The study note as the study starts (or resumes)."""
        begun = time.perf_counter()
        self._guard("study note", lambda: self._study(study, figures=False))
        self.spent += time.perf_counter() - begun

    def __call__(self, study: Any, trial: Any) -> None:
        begun = time.perf_counter()
        self._guard("trial note", lambda: self._trial(study, trial))
        self.stale = True
        elapsed = time.monotonic() - self.started
        if self.spent + (time.perf_counter() - begun) + self.study_cost <= self.share * elapsed:
            self._guard("study note and figures", lambda: self._study(study, figures=self.figures))
        self.spent += time.perf_counter() - begun

    def finish(self, study: Any) -> None:
        """Bring the study note and figures up to date (the run is over)."""
        begun = time.perf_counter()
        if self.stale:
            self._guard("study note and figures", lambda: self._study(study, figures=self.figures))
        self.spent += time.perf_counter() - begun

    def _trial(self, study: Any, trial: Any) -> None:
        from optuna_dashboard import save_note

        from scalesearch.search.results.notes import live_trial, trial_note

        save_note(live_trial(study, trial), trial_note(trial, self.spec))

    def _study(self, study: Any, *, figures: bool) -> None:
        from optuna_dashboard import save_note

        from scalesearch.search.results.notes import study_note

        begun = time.perf_counter()
        save_note(study, study_note(study, self.spec, self.storage_url))
        if figures:
            from scalesearch.search.results.figures import publish_figures

            publish_figures(study, self.spec)
            self.stale = False
        self.study_cost = time.perf_counter() - begun

    def _guard(self, what: str, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as e:  # noqa: BLE001 - a note or figure must never fail a trial or a run
            kind = f"{what}: {type(e).__name__}"
            if kind not in self._warned:
                self._warned.add(kind)
                self.warn(f"could not update the dashboard's {what} ({type(e).__name__}: {e}); "
                          "the study goes on, and `scalesearch report` draws it afterwards")


def both(first: Callable[[Any, Any], None], then: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """One trial callback that calls ``first`` and then ``then`` (``run_study`` takes one)."""
    def callback(study: Any, trial: Any) -> None:
        first(study, trial)
        then(study, trial)

    return callback
