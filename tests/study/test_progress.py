"""What ``scalesearch run`` prints: per trial, one word each, as notes, figures and the report say
it (Optuna's PRUNED is "stopped early"; "pruned" is structured compression here); at the end, the
commands to run next with the storage named as the notes and the report name it."""

from __future__ import annotations

import io

import optuna
from rich.console import Console

from scalesearch.search.config import attrs
from scalesearch.search.config.spec import load_spec
from scalesearch.search.study.progress import Progress


def test_a_stopped_trial_reads_stopped_early_on_its_line():
    spec = load_spec(None)
    study = optuna.create_study(directions=spec.directions)
    trial = study.ask()
    trial.set_user_attr(attrs.PRUNE_REASON, "asha: at rung 3 epochs, 2 of 2 peers rank higher")
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    printed = io.StringIO()
    Progress(spec, Console(file=printed, width=300))(study, study.trials[0])
    line = printed.getvalue()
    assert "trial 0 stopped early" in line and "pruned" not in line, line
    assert "(asha: at rung 3 epochs, 2 of 2 peers rank higher)" in line


def test_the_next_commands_name_the_storage_as_notes_do(tmp_path, monkeypatch):
    """A relative ``sqlite:///x.db`` names another file when the dashboard is started elsewhere:
    the ``next:`` line gives the absolute path, as the note and the report do (notes.shown_url)."""
    from scalesearch.search.results.notes import shown_url
    from scalesearch.search.study.launch import RunOutcome, print_outcome

    monkeypatch.chdir(tmp_path)
    spec = load_spec(None)
    study = optuna.create_study(directions=spec.directions)
    printed = io.StringIO()
    print_outcome(Console(file=printed, width=400), RunOutcome(study, spec, "sqlite:///runs.db", 0, "budget", 1.0))
    line = next(x for x in printed.getvalue().splitlines() if x.startswith("next:"))
    assert f"--storage sqlite:///{tmp_path / 'runs.db'} " in line and shown_url("sqlite:///runs.db") in line, line
