"""The CLI's tables: the front's title counts in words ("1 trial"), and an uncompressed model
reads "uncompressed", as the figures, notes and report say it."""

from __future__ import annotations

import io

from rich.console import Console

from scalesearch.search.results.study_view import spec_of
from scalesearch.search.results.tables import front_table
from tests.results.figure_helpers import compression_study


def _printed(table) -> str:
    out = io.StringIO()
    Console(file=out, width=300).print(table)
    return out.getvalue()


def test_a_front_of_one_says_one_trial():
    study = compression_study(n=1)  # trial 0: resnet, uncompressed
    table = front_table(study, spec_of(study))
    assert table.title.endswith("(1 trial)"), table.title
    text = _printed(table)
    assert "uncompressed" in text and " - " not in text.split("\n", 2)[2], text


def test_complete_trials_none_of_them_feasible_are_not_called_no_trial_yet():
    """A study whose every complete trial breaks a constraint has no front, but it has trials:
    the run's closing line says so, not 'no complete trial yet'."""
    import dataclasses

    study = compression_study(n=3)
    spec = dataclasses.replace(spec_of(study), constraints=("params<=1",))
    assert front_table(study, spec) == "no trial on the front: none of the 3 complete trials is feasible and trusted"
