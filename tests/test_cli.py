"""The CLI end to end on tiny settings: run, resume, studies, export, train; help for every command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from scalesearch.cli import build_parser, main
from tests.conftest import TINY_OVERRIDES

SETS = [arg for o in TINY_OVERRIDES for arg in ("--set", o)]


def _commands():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert len(capsys.readouterr().out.splitlines()) > 3


def test_help_does_not_import_torch():
    code = "import sys; from scalesearch.cli import build_parser; build_parser().format_help(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.fixture(scope="module")
def _study_once(tmp_path_factory):
    """One real 3-trial run (tiny models, 1 epoch) shared by the tests below, each on a copy."""
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("study")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["run", "--storage", f"sqlite:///{folder / 'runs.db'}", "--study-name", "d1", *SETS]) == 0
    return folder / "runs.db", out.getvalue()


@pytest.fixture
def finished_study(_study_once, tmp_path):
    import sqlite3

    db, out = _study_once
    copy = tmp_path / "runs.db"
    with sqlite3.connect(db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    return f"sqlite:///{copy}", out


def test_run_shows_progress_and_the_front(finished_study):
    _, out = finished_study
    assert "[3/3] trial 2" in out
    assert "Pareto front of d1" in out and "accuracy" in out
    assert "3/3 trials finished" in out


def test_run_leaves_notes_and_figures_for_the_dashboard(finished_study):
    from optuna_dashboard import get_note

    from scalesearch.search.results.notes import live_trial
    from scalesearch.search.storage.storage import open_storage, stored_study

    url, _ = finished_study
    study = stored_study("d1", open_storage(url))
    note = get_note(study)
    assert "3 / 3 trials finished" in note and "## Pareto front" in note and "--trial" in note
    for trial in study.trials:
        assert get_note(live_trial(study, trial)).startswith(f"**Trial {trial.number}: ")
    stored = study.storage.get_study_system_attrs(study.storage.get_study_id_from_name("d1"))
    assert any(key.startswith("dashboard:plot_data:") for key in stored)  # the study's figures


def test_rerun_resumes_and_extends_the_budget(finished_study, capsys):
    url, _ = finished_study
    assert main(["run", "--storage", url, "--study-name", "d1", "--n-trials", "4"]) == 0
    out = capsys.readouterr().out
    assert "3/4 trials finished" in out and "[4/4] trial 3" in out


def test_conflicting_spec_is_refused(finished_study, capsys):
    url, _ = finished_study
    code = main(["run", "--storage", url, "--study-name", "d1", *SETS, "--set", "seed=5"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "different spec (seed)" in err


def test_studies_lists_directions_and_counts(finished_study, capsys):
    url, _ = finished_study
    assert main(["studies", "--storage", url, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["study"] == "d1" and row["complete"] == 3 and "accuracy (max)" in row["objectives"]


def test_export_then_train_then_load(finished_study, tmp_path, capsys):
    url, _ = finished_study
    best = tmp_path / "best.yaml"
    assert main(["export", "--storage", url, "--study-name", "d1", "--pick", "max:accuracy", "-o", str(best)]) == 0
    exported = yaml.safe_load(best.read_text())
    assert exported["provenance"]["study"] == "d1"
    # The default rule re-evaluated the top candidates with 2 more seeds, each on a fresh train/validation
    # partition, and states the interval over those two.
    assert exported["provenance"]["rule"] == "lcb" and exported["provenance"]["resplit"] is True
    assert exported["uncertainty"]["seeds"] == 2
    out = capsys.readouterr().out
    assert "train should report a test accuracy in [" in out and "(add --final for the model to deploy" in out
    out_dir = tmp_path / "model"
    assert main(["train", str(best), "-o", str(out_dir), "--device", "cpu", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "trained 1 epochs on train" in out and "test accuracy" in out and "the exported 95 % interval" in out
    assert "val acc" in out and "test acc " not in out  # epochs are scored on validation; test is read once
    assert any(f"is {where} the exported 95 % interval" in out for where in ("inside", "below", "above"))
    assert yaml.safe_load((out_dir / "model.yaml").read_text())["retrain"]["fit"] == "train"
    import torch

    from scalesearch.search.results.retrain import load_model

    model = load_model(out_dir)
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    card = yaml.safe_load((out_dir / "model.yaml").read_text())
    assert 0 <= card["retrain"]["test_accuracy"] <= 1 and card["retrain"]["test_samples"] == 360


def test_export_where_nothing_matches(finished_study, capsys):
    url, _ = finished_study
    code = main(["export", "--storage", url, "--where", "params<=1", "-o", "x.yaml"])
    err = capsys.readouterr().err
    assert code == 2 and "no complete trial satisfies params <= 1" in err


def test_user_errors_are_one_line_without_traceback(tmp_path, capsys):
    code = main(["run", str(tmp_path / "missing.yaml"), "--storage", f"sqlite:///{tmp_path / 'x.db'}"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: spec: file not found") and "Traceback" not in err


def test_spaces_lists_families_and_presets(capsys):
    from scalesearch.spaces.registry import list_families

    assert main(["spaces", "--json", "--input-size", "16", "--num-classes", "5", "--in-chans", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [f["name"] for f in data["families"]] == list_families()
    for family in data["families"]:
        assert 0 < family["smallest"]["params"] < family["largest"]["params"]
        assert "width_multiplier" in family["knobs"]
    assert "small_cnn" in {p["name"] for p in data["presets"]}
    assert main(["spaces"]) == 0
    assert "all_families" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["export"], ["studies"]])
def test_reading_commands_do_not_create_a_database_for_a_mistyped_path(command, tmp_path, capsys):
    missing = tmp_path / "typo.db"
    assert main([*command, "--storage", f"sqlite:///{missing}"]) == 2
    assert "error:" in capsys.readouterr().err
    assert not missing.exists()


def test_stability_reports_the_spread_over_seeds(finished_study, capsys):
    url, _ = finished_study
    assert main(["stability", "--storage", url, "--study-name", "d1", "--runs", "2", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "Stability of the Pareto front of d1" in out and "accuracy_std" in out


@pytest.mark.slow
def test_compressed_study_shows_compression_and_exports_a_deployed_model(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    sets = [*SETS, "--set", "space=small_cnn", "--set", "space.training.epochs=1",
            "--set", "space.compression={pruning_ratio: {choices: [0.0, 0.5]}, finetune_epochs: 1, "
                     "quantization: {choices: [none, int8_dynamic]}}",
            "--set", "budget.n_trials=3"]
    assert main(["run", "--storage", url, "--study-name", "c", *sets]) == 0
    assert "compression" in capsys.readouterr().out
    out_dir = tmp_path / "deployed"
    assert main(["export-model", "--storage", url, "--study-name", "c", "--trial", "0", "-o", str(out_dir),
                 "--device", "cpu"]) == 0
    assert "saved its deployed model" in capsys.readouterr().out and any(out_dir.iterdir())
