"""What ``scalesearch run`` prints per trial: one word each, as notes, figures and the report say
it (Optuna's PRUNED is "stopped early"; "pruned" is structured compression here)."""

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
