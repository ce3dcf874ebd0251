"""Export selection rules on a hand-made study (no training): knee, max/min, --where."""

from __future__ import annotations

import optuna
import pytest
import yaml

from scalesearch.errors import ExportError, SpecError
from scalesearch.search.config import attrs
from scalesearch.search.config.spec import load_spec
from scalesearch.search.results.export import export_data, select_trial, write_yaml
from scalesearch.search.storage.storage import stored_study

# (accuracy, params, latency_ms): trial 3 is dominated by trial 1.
POINTS = [(0.90, 1_000, 0.1), (0.96, 10_000, 0.3), (0.975, 100_000, 1.0), (0.95, 20_000, 0.5), (0.98, 1_000_000, 4.0)]


@pytest.fixture
def study_and_spec():
    spec = load_spec()
    study = stored_study(optuna.create_study(storage=(memory := optuna.storages.InMemoryStorage()), directions=spec.directions).study_name, memory)
    for i, (acc, params, latency) in enumerate(POINTS):
        config = {"family": "resnet", "model": {"width_multiplier": 0.1 * (i + 1), "depth_multiplier": 1.0},
                  "training": {"lr": 0.01, "epochs": 3}, "seed": i}
        study.add_trial(optuna.trial.create_trial(
            values=[acc, params], user_attrs={attrs.CONFIG: config, attrs.INPUT_SIZE: 8, "ss.accuracy": acc, "ss.params": params,
                                              "ss.latency_ms": latency},
        ))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    return study, spec


def test_knee_is_the_front_point_nearest_the_ideal(study_and_spec):
    study, spec = study_and_spec
    # log10(params) spans 3..6; accuracy 0.90..0.98. Trial 1 (0.96, 1e4) is nearest (0, 0).
    assert select_trial(study, spec, "knee").number == 1


@pytest.mark.parametrize(("pick", "expected"), [
    ("max:accuracy", 4), ("min:params", 0), ("min:latency_ms", 0), ("max:params", 4),
])
def test_metric_picks_choose_among_pareto_trials(study_and_spec, pick, expected):
    study, spec = study_and_spec
    assert select_trial(study, spec, pick).number == expected


def test_where_filters_before_taking_the_front(study_and_spec):
    study, spec = study_and_spec
    assert select_trial(study, spec, "max:accuracy", ["latency_ms<=1"]).number == 2
    # The dominated trial 3 becomes eligible once its dominator is filtered out.
    assert select_trial(study, spec, "max:accuracy", ["params>=15000", "latency_ms<1"]).number == 3


@pytest.mark.parametrize(("pick", "where", "error", "needle"), [
    ("knee", ["latency_ms<=0.01"], ExportError, "no complete trial satisfies latency_ms <= 0.01"),
    ("best", [], SpecError, "use knee, max:<metric> or min:<metric>"),
    ("knee:accuracy", [], SpecError, "use knee"),
    ("knee", ["speed<3"], SpecError, "unknown metric 'speed'"),
    ("max:joy", [], ExportError, "no Pareto-optimal trial has the metric 'joy'"),
])
def test_bad_requests_are_one_line_errors(study_and_spec, pick, where, error, needle):
    study, spec = study_and_spec
    with pytest.raises(error, match=needle.replace("(", r"\(")):
        select_trial(study, spec, pick, where)


def test_no_complete_trial():
    spec = load_spec()
    study = stored_study(optuna.create_study(storage=(memory := optuna.storages.InMemoryStorage()), directions=spec.directions).study_name, memory)
    with pytest.raises(ExportError, match="has no complete trial yet"):
        select_trial(study, spec)


def test_export_holds_everything_to_rebuild_and_redacts_the_storage(study_and_spec, tmp_path):
    study, spec = study_and_spec
    trial = select_trial(study, spec)
    data = export_data(study, spec, trial, storage_url="postgresql://me:secret@db/x", where=["params<1e9"])
    path = write_yaml(data, tmp_path / "best.yaml")
    loaded = yaml.safe_load(path.read_text())
    assert loaded["family"] == "resnet" and loaded["model"]["width_multiplier"] == pytest.approx(0.2)
    assert loaded["training"] == {"lr": 0.01, "epochs": 3} and loaded["seed"] == 1
    assert loaded["dataset"]["name"] == "digits" and loaded["dataset"]["input_size"] == 8
    assert loaded["metrics"]["accuracy"] == 0.96
    assert loaded["provenance"]["trial"] == 1 and "torch" in loaded["provenance"]["versions"]
    assert "secret" not in path.read_text() and loaded["provenance"]["storage"] == "postgresql://me:***@db/x"


def test_unwritable_output_is_an_export_error(study_and_spec, tmp_path):
    with pytest.raises(ExportError, match="cannot write"):
        write_yaml({"a": 1}, tmp_path / "no" / "such" / "dir" / "best.yaml")


def test_export_trial_n_takes_that_trial_as_it_is(study_and_spec):
    """``export --trial N``: a row of the study note's Pareto table, dominated or not, no re-evaluation."""
    from scalesearch.search.results.selection import select

    study, spec = study_and_spec
    chosen = select(study, spec, trial=3)  # dominated by trial 1, still exported as asked
    assert chosen.trial.number == 3 and chosen.rule == "single" and chosen.trainings == 0
    data = export_data(study, spec, chosen.trial, storage_url="sqlite:///x.db", pick="trial:3")
    assert data["model"]["width_multiplier"] == pytest.approx(0.4) and data["provenance"]["trial"] == 3


@pytest.mark.parametrize(("number", "why"), [(5, "is FAIL"), (99, "does not exist"), (-1, "does not exist")])
def test_export_trial_n_refuses_a_trial_that_is_not_complete(study_and_spec, number, why):
    from scalesearch.search.results.selection import select

    study, spec = study_and_spec
    with pytest.raises(ExportError, match=f"--trial {number}: trial {number} of study .* {why}; export takes a COMPLETE"):
        select(study, spec, trial=number)
