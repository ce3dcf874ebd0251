"""The rung-correlation helper: Spearman's rho between accuracy at epoch k and at the end."""

from __future__ import annotations

import optuna
import pytest

from tests.benchmark_helpers import load_benchmark


@pytest.fixture(scope="module")
def rc():
    return load_benchmark("rung_correlation")


def test_rank_correlation_per_epoch_over_curves_of_the_common_length(rc):
    curves = [[0.1, 0.5, 0.9], [0.2, 0.4, 0.8], [0.3, 0.3, 0.7], [0.4, 0.2, 0.6], [0.9, 0.9]]
    rows = rc.correlations(curves, [1, 2, 3, 7])
    # Epoch 1 ranks the trials backwards, epoch 2 in order; the short curve is left out.
    assert rows == [(1, pytest.approx(-1.0), 4), (2, pytest.approx(1.0), 4), (3, pytest.approx(1.0), 4)]


def test_reads_complete_trials_from_a_study_file(rc, tmp_path, capsys):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=url, study_name="s", directions=["maximize", "minimize"])
    for i, curve in enumerate([[0.2, 0.5, 0.6], [0.3, 0.6, 0.7], [0.4, 0.7, 0.8], [0.5, 0.8]]):
        trial = study.ask()
        trial.set_user_attr("ss.val_curve", curve)
        trial.set_user_attr("ss.epochs_run", len(curve))
        study.tell(trial, [curve[-1], 1000 + i])
    pruned = study.ask()
    pruned.set_user_attr("ss.val_curve", [0.9])
    study.tell(pruned, state=optuna.trial.TrialState.PRUNED)
    assert len(rc.curves([str(tmp_path / "s.db")])) == 4
    assert rc.main([str(tmp_path / "s.db"), "--at", "1", "2"]) == 0
    assert "| 1 | 1.00 |" in capsys.readouterr().out


def test_a_missing_file_is_one_line_and_exit_2(rc, tmp_path, capsys):
    assert rc.main([str(tmp_path / "nope.db")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no such study file") and err.count("\n") == 1
    assert not (tmp_path / "nope.db").exists()
