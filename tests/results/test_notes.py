"""The study note and trial notes (optuna-dashboard Markdown), and the hook that keeps them current."""

from __future__ import annotations

import re

import optuna
import pytest

from scalesearch.search.config import attrs
from scalesearch.search.config.spec import load_spec
from scalesearch.search.results.notes import describe_param, shown_url, study_note, trial_note
from scalesearch.search.results.refresh import Refresh
from scalesearch.search.results.report import complete_trials, pareto_trials, trial_row
from scalesearch.search.study.study import open_study, run_study
from scalesearch.spaces.space import Choice, Fixed, FloatRange, IntRange
from tests.conftest import TINY_OVERRIDES
from tests.results.figure_helpers import COMPRESS


@pytest.fixture
def spec():
    return load_spec(None, [*TINY_OVERRIDES, "budget.n_trials=6", "constraints=[params <= 200000]"])


@pytest.fixture
def ran(spec, storage_url, tiny_data, fake_trainer):
    study, spec = open_study(spec, storage_url)
    refresh = Refresh(spec, storage_url, share=1.0, figures=False)  # every trial refreshes the study note
    refresh.start(study)
    run_study(study, spec, data=tiny_data, device="cpu", trainer=fake_trainer, on_trial_end=refresh)
    refresh.finish(study)
    return study, spec


def note_of(study, trial=None):
    from optuna_dashboard import get_note

    from scalesearch.search.results.notes import live_trial

    return get_note(study if trial is None else live_trial(study, trial))


@pytest.mark.parametrize(("param", "text"), [
    (Fixed(27), "27"), (Choice((32, 64)), "{32, 64}"), (FloatRange(0.03125, 0.5, log=True), "0.0312–0.5 (log)"),
    (IntRange(1, 4), "1–4"),
])
def test_a_knob_reads_as_its_range(param, text):
    assert describe_param(param) == text


def test_the_study_note_answers_which_model_and_how_to_export_it(ran, storage_url):
    study, spec = ran
    note = note_of(study)
    drop_time = lambda text: re.sub(r"Updated .* UTC", "", text)  # noqa: E731
    assert drop_time(note) == drop_time(study_note(study, spec, storage_url))
    assert "6 / 6 trials finished" in note
    for family in spec.space.families:
        assert f"| {family} | width_multiplier" in note
    assert "| accuracy | maximize |" in note and "| params | minimize |" in note
    assert "`params <= 200000`" in note
    front = pareto_trials(complete_trials(study), spec)
    table = [line for line in note.splitlines() if re.match(r"\| (\*\*)?\d+", line)]
    assert len(table) == len(front)
    # The question a new user asks: the most accurate model under 100K params, and its command.
    under = [trial_row(t) for t in front if trial_row(t)["params"] < 100_000]
    best = max(under, key=lambda r: r["accuracy"])
    row = next(line for line in table if re.match(rf"\| (\*\*)?{best['trial']}\b", line))
    assert f"`--trial {best['trial']}`" in row and f"{best['accuracy']:.4f}" in row
    assert f"scalesearch export --storage {shown_url(storage_url)} --study-name {study.study_name} --trial" in note
    assert "--pick knee" in note and "(knee)" in note


def test_every_finished_trial_has_a_note_with_its_config_and_measurements(ran):
    study, spec = ran
    for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        note = note_of(study, trial)
        assert note == trial_note(trial, spec)
        row = trial_row(trial)
        assert f"Config: {row['family']} (width_multiplier" in note and "training lr" in note
        assert "accuracy 0." in note and "params " in note
        if row["compression"] == "uncompressed":  # one word for it, as the figures and the report say it
            assert "; uncompressed; seed" in note and "none (uncompressed)" not in note


def test_a_stopped_trial_says_why(spec, tiny_data):
    study = optuna.create_study(directions=spec.directions)
    trial = study.ask()
    trial.set_user_attr(attrs.PRUNE_REASON, "rung 3: dominated by 4 of 6 trials at this rung")
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    note = trial_note(study.trials[0], spec)
    # "pruned" is structured compression here; Optuna's PRUNED state reads "stopped early"
    assert "**Trial 0: stopped early**" in note and "pruned" not in note
    assert "Stopped early: rung 3: dominated by 4 of 6 trials" in note


def test_a_failing_refresh_never_fails_the_run(spec, storage_url, tiny_data, fake_trainer, monkeypatch):
    import scalesearch.search.results.notes as notes

    monkeypatch.setattr(notes, "study_note", lambda *a, **k: 1 / 0)
    warnings = []
    study, spec = open_study(spec, storage_url, budget={"n_trials": 2})
    refresh = Refresh(spec, storage_url, share=1.0, warn=warnings.append, figures=False)
    summary = run_study(study, spec, data=tiny_data, device="cpu", trainer=fake_trainer, on_trial_end=refresh)
    refresh.finish(study)
    assert summary.finished == 2
    assert len(warnings) == 1 and "ZeroDivisionError" in warnings[0]  # said once, not per trial
    assert note_of(study, study.trials[0]).startswith("**Trial 0")  # trial notes still written


def test_the_study_refresh_stays_within_its_share_of_wall_time(spec, storage_url, tiny_data, fake_trainer):
    study, spec = open_study(spec, storage_url, budget={"n_trials": 3})
    refresh = Refresh(spec, storage_url, share=0.0, figures=False)  # no time to spare: finish() writes all
    run_study(study, spec, data=tiny_data, device="cpu", trainer=fake_trainer, on_trial_end=refresh)
    assert note_of(study) == "" and note_of(study, study.trials[0]) == ""
    refresh.finish(study)
    assert "3 / 3 trials finished" in note_of(study)
    assert all(note_of(study, t).startswith(f"**Trial {t.number}: ") for t in study.trials)  # none lost


def test_a_trial_note_draws_its_learning_curve():
    from scalesearch.search.results.notes import CURVE_COLUMNS, curve_lines

    lines = curve_lines([0.5, 0.7, 0.9])
    assert "`▁▄█`" in lines[1] and "0.5000 to 0.9000" in lines[1]
    assert lines[3] == "| epoch | 1 | 2 | 3 |" and lines[5] == "| accuracy | 0.5000 | 0.7000 | 0.9000 |"
    long = curve_lines([i / 100 for i in range(40)])
    assert long[3].count("|") - 2 <= CURVE_COLUMNS and long[3].endswith("| 40 |")  # bounded, the last kept
    assert curve_lines([]) == []


def test_the_front_and_budget_example_follow_the_studys_own_objectives():
    from scalesearch.search.results.notes import front_section
    from tests.results.figure_helpers import compression_study

    study = compression_study()
    text = "\n".join(front_section(study, load_spec(COMPRESS), "sqlite:///runs.db"))
    assert "fewest parameters" not in text and "params<" not in text  # params is no objective here
    assert "lowest latency first" in text and "--where 'latency_ms<" in text
    assert "sqlite:////" in text and "sqlite:///runs.db" not in text  # an absolute path: any folder works


def test_an_interrupted_run_writes_the_interrupted_trials_note_and_the_study_counts(spec, storage_url, tiny_data):
    study, spec = open_study(spec, storage_url, budget={"n_trials": 3})
    refresh = Refresh(spec, storage_url, share=1.0, figures=False)
    refresh.start(study)

    def interrupted(model, data, cfg, device, on_epoch=None):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        try:
            run_study(study, spec, data=tiny_data, device="cpu", trainer=interrupted, on_trial_end=refresh)
        except KeyboardInterrupt:
            refresh.interrupted(study)
            raise
    failed = [t for t in study.get_trials(deepcopy=False) if t.state.name == "FAIL"]
    assert failed and failed[0].user_attrs.get(attrs.FAIL_REASON) == "interrupted"
    assert "Failed: interrupted" in note_of(study, failed[0])
    assert f"{len(failed)} failed" in note_of(study)
