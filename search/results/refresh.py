"""Keep what optuna-dashboard shows current while a study runs: notes and figures.

:class:`Refresh` is an Optuna trial callback (``run_study(on_trial_end=...)``; ``scalesearch run``
and every ``scalesearch worker`` use it). After a trial finishes it writes that trial's note, then
the study note and the figures (``search/results/figures.py``), each only while all the time spent
refreshing stays within ``share`` (1 %) of the run's wall time so far; what is put off is written
at the next chance and by :meth:`finish`, so the cost is bounded and the last view complete. It
never fails a trial: an error is reported once as a warning and the run goes on.

    refresh = Refresh(spec, url)
    refresh.start(study)
    try:
        run_study(study, spec, on_trial_end=refresh)
    except KeyboardInterrupt:
        refresh.interrupted(study)   # the interrupted trial's note, the study note's counts
        raise
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
        self.note_cost = 0.0  # seconds the last trial note took
        self.study_cost = 0.0  # seconds the last study note and figures took
        self.pending: list[Any] = []  # finished trials whose note is not written yet
        self.noted: set[int] = set()  # trial numbers whose note this run wrote
        self.stale = False  # a trial finished since the study note and figures were written
        self._warned: set[str] = set()

    def start(self, study: Any) -> None:
        """The study note as the study starts (or resumes)."""
        self._timed("study note", lambda: self._study(study, figures=False))

    def __call__(self, study: Any, trial: Any) -> None:
        self.pending.append(trial)
        self.stale = True
        if self._affordable(self.note_cost * len(self.pending)):
            self._timed("trial note", lambda: self._notes(study))
            if self._affordable(self.study_cost):
                self._timed("study note and figures", lambda: self._study(study, figures=self.figures))

    def finish(self, study: Any) -> None:
        """Write what is pending: trial notes, the study note and figures (the run is over)."""
        self._timed("trial note", lambda: self._notes(study))
        if self.stale:
            self._timed("study note and figures", lambda: self._study(study, figures=self.figures))

    def interrupted(self, study: Any) -> None:
        """After Ctrl-C: the notes of every trial that ended in this run without one (the
        interrupted trial never reaches the trial callback) and the study note with its counts;
        figures wait for the next run or ``scalesearch report`` (the user asked to stop)."""
        import datetime as dt

        begun = dt.datetime.now() - dt.timedelta(seconds=time.monotonic() - self.started)
        noted = {t.number for t in self.pending} | self.noted
        self.pending += [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()
                         and t.number not in noted and t.datetime_complete and t.datetime_complete >= begun]
        self._timed("trial note", lambda: self._notes(study))
        self._timed("study note", lambda: self._study(study, figures=False))

    def _affordable(self, cost: float) -> bool:
        return self.share > 0 and self.spent + cost <= self.share * (time.monotonic() - self.started)

    def _notes(self, study: Any) -> None:
        from optuna_dashboard import save_note

        from scalesearch.search.results.notes import live_trial, trial_note

        while self.pending:
            begun = time.perf_counter()
            trial = self.pending.pop(0)
            save_note(live_trial(study, trial), trial_note(trial, self.spec))
            self.noted.add(trial.number)
            self.note_cost = time.perf_counter() - begun

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

    def _timed(self, what: str, action: Callable[[], None]) -> None:
        begun = time.perf_counter()
        try:
            action()
        except Exception as e:  # noqa: BLE001 - a note or figure must never fail a trial or a run
            kind = f"{what}: {type(e).__name__}"
            if kind not in self._warned:
                self._warned.add(kind)
                self.warn(f"could not update the dashboard's {what} ({type(e).__name__}: {e}); "
                          "the study goes on, and `scalesearch report` draws it afterwards")
        finally:
            self.spent += time.perf_counter() - begun


def both(first: Callable[[Any, Any], None], then: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """One trial callback that calls ``first`` and then ``then`` (``run_study`` takes one)."""
    def callback(study: Any, trial: Any) -> None:
        first(study, trial)
        then(study, trial)

    return callback
