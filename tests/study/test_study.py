"""Creating, resuming and refusing studies; the study-wide budget."""

from __future__ import annotations

import dataclasses

import optuna
import pytest

from scalesearch.errors import SpecError, StorageError
from scalesearch.search.config import attrs, system_attrs
from scalesearch.search.config.spec import load_spec, spec_to_data
from scalesearch.search.study.study import (
    count_finished,
    open_study,
    run_study,
    spec_conflicts,
)
from tests.conftest import TINY_OVERRIDES


@pytest.fixture
def spec():
    return load_spec(None, TINY_OVERRIDES)


def test_new_study_stores_spec_names_metrics_and_versions(spec, storage_url):
    study, resolved = open_study(spec, storage_url)
    assert study.metric_names == ["accuracy", "params"]
    assert system_attrs.study_data(study, attrs.SPEC) == spec_to_data(resolved)
    assert "optuna" in study.user_attrs[attrs.VERSIONS]


def test_budget_is_study_wide_and_resume_finishes_the_rest(spec, storage_url, tiny_data, fake_trainer):
    study, spec2 = open_study(spec, storage_url, budget={"n_trials": 2})
    run_study(study, spec2, data=tiny_data, device="cpu", trainer=fake_trainer)
    assert count_finished(study) == 2
    # Same spec, bigger budget: resumes and runs only the remainder.
    study, spec3 = open_study(spec, storage_url, budget={"n_trials": 3})
    summary = run_study(study, spec3, data=tiny_data, device="cpu", trainer=fake_trainer)
    assert summary.finished == 3 and len(fake_trainer.calls) == 3
    # Budget already met: nothing runs.
    summary = run_study(study, spec3, data=tiny_data, device="cpu", trainer=fake_trainer)
    assert summary.finished == 3 and len(fake_trainer.calls) == 3


def test_resume_without_spec_uses_the_stored_one(spec, storage_url):
    open_study(spec, storage_url)
    _, resumed = open_study(None, storage_url, spec.study_name)
    assert resumed == spec


def test_conflicting_spec_is_refused_naming_the_keys(spec, storage_url):
    study, _ = open_study(spec, storage_url)
    study.add_trial(optuna.trial.create_trial(values=[0.5] * len(spec.objectives), params={}, distributions={}))
    other = dataclasses.replace(spec, objectives=("accuracy", "flops"))
    with pytest.raises(SpecError, match=r"already exists with a different spec \(objectives\)"):
        open_study(other, storage_url)
    stored = optuna.load_study(study_name=spec.study_name, storage=storage_url)
    assert system_attrs.study_data(study, attrs.SPEC) == spec_to_data(spec)
    assert [t.state for t in stored.trials].count(optuna.trial.TrialState.COMPLETE) == 1


def test_a_study_that_never_ran_a_trial_takes_a_new_spec(spec, storage_url):
    """A study left empty (its per-family seeds still waiting) by a failed start of an earlier
    version: nothing ran in it, so a fixed spec replaces the stored one, objectives included."""
    open_study(spec, storage_url)
    other = dataclasses.replace(spec, objectives=("accuracy", "flops"))
    study, opened = open_study(other, storage_url)
    assert opened.objectives == ("accuracy", "flops") and study.metric_names == ["accuracy", "flops"]
    assert system_attrs.study_data(study, attrs.SPEC) == spec_to_data(opened)


def test_budget_change_is_not_a_conflict(spec):
    a = spec_to_data(spec)
    b = spec_to_data(dataclasses.replace(spec, budget=dataclasses.replace(spec.budget, n_trials=99)))
    assert spec_conflicts(a, b) == []
    c = spec_to_data(dataclasses.replace(spec, seed=7))
    assert spec_conflicts(a, c) == ["seed"]


def test_unknown_study_names_the_existing_ones(spec, storage_url):
    open_study(spec, storage_url)
    with pytest.raises(StorageError, match="study 'nope' not found in"):
        open_study(None, storage_url, "nope")


def test_repeated_failures_stop_the_run(spec, storage_url, tiny_data, monkeypatch):
    from scalesearch.spaces import registry

    for name in ("resnet", "convnext"):
        f = registry.get_family(name)
        monkeypatch.setitem(registry._FAMILIES, name, registry.Family(name, lambda io, **kw: 1 / 0, f.description, f.knobs))
    study, spec = open_study(spec, storage_url)
    summary = run_study(study, spec, data=tiny_data, device="cpu")
    assert summary.stopped_by == "failures" and summary.finished == 0 and summary.failed_this_run == 3


def test_a_new_study_tries_every_family_first(spec, storage_url, tiny_data, fake_trainer):
    study, spec = open_study(load_spec(None, TINY_OVERRIDES + ["space=all_families", "space.training.epochs=1"]),
                             storage_url, budget={"n_trials": 7})
    families = list(spec.space.families)
    assert len(families) == 7
    run_study(study, spec, data=tiny_data, device="cpu", trainer=fake_trainer)
    tried = [system_attrs.trial_config(t)["family"] for t in study.trials]
    assert sorted(tried) == sorted(families)
