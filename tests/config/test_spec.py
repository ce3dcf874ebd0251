"""Study spec: loading, defaults, --set overrides, one-line errors naming the key."""

from __future__ import annotations

import pytest

from scalesearch.errors import SpecError, UnknownNameError
from scalesearch.search.config.spec import StudySpec, load_spec, spec_from_data, spec_to_data
from tests.conftest import ROOT


def test_default_study_loads_and_round_trips():
    spec = load_spec()
    assert spec.study_name == "digits"
    assert spec.objectives == ("accuracy", "params")
    assert spec.directions == ["maximize", "minimize"]
    assert set(spec.space.families) >= {"resnet", "convnext"}
    assert spec_from_data(spec_to_data(spec)) == spec


@pytest.mark.parametrize("path", sorted((ROOT / "studies").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_study_is_valid(path):
    assert isinstance(load_spec(path), StudySpec)


def test_set_overrides_nested_fields_and_preset_space():
    spec = load_spec(None, ["budget.n_trials=5", "sampler.name=random", "space.training.epochs=2",
                            "constraints=['params <= 2e5']"])
    assert spec.budget.n_trials == 5
    assert spec.sampler.name == "random"
    assert spec.space.training["epochs"].value == 2
    assert spec.conditions[0].bound == 200000


def test_empty_file_means_all_defaults(tmp_path):
    (tmp_path / "s.yaml").write_text("")
    assert load_spec(tmp_path / "s.yaml").space.name == "small_cnn"


@pytest.mark.parametrize(("text", "overrides", "needle"), [
    ("budget: {n_trials: 0}", [], "budget.n_trials: must be positive"),
    ("budget: {n_trails: 3}", [], "budget.n_trails: unknown key in budget"),
    ("colour: red", [], "colour: unknown key"),
    ("budget: {n_trials: many}", [], "budget.n_trials: expected an integer"),
    ("objectives: [accuracy, speed]", [], "objectives[1]: unknown objective 'speed'"),
    ("objectives: []", [], "objectives: list at least one"),
    ("objectives: [params, params]", [], "each objective may appear only once"),
    ("sampler: {name: cmaes}", [], "unknown sampler 'cmaes'"),
    ("constraints: ['parms <= 3']", [], "unknown metric 'parms'"),
    ("constraints: ['params about 3']", [], "write it as 'metric <= number'"),
    ("device: tpu", [], "device: expected auto, cpu, cuda"),
    ("dataset: {val_fraction: 1.5}", [], "dataset.val_fraction: must be between 0 and 1"),
    ("space: nosuchpreset", [], "unknown space preset 'nosuchpreset'"),
    ("space: {families: {lenet: {}}}", [], "unknown model family 'lenet'"),
    ("space: {families: {resnet: {width_multiplier: {low: 0.5, high: 0.1}}}}", [], "low (0.5) is greater than high (0.1)"),
    ("space: {families: {resnet: {width_multiplier: {choices: []}}}}", [], "expected a non-empty list"),
    ("space: {families: {resnet: {width_multiplier: 9.0}}}", [], "outside the family's range"),
    ("space: {families: {resnet: {wings: 2}}}", [], "unknown knob for resnet"),
    ("space: {families: {resnet: {}}, training: {momentum: 0.9}}", [], "unknown training knob"),
    ("space: {families: {resnet: {}}, training: {schedule: linear}}", [], "unknown schedule 'linear'"),
    ("{}", ["space.training.schedule={choices: [cosine, step]}"], "space.training.schedule: unknown schedule 'step'"),
    ("{}", ["budget.n_trials"], "expected key.path=value"),
    ("{}", ["budget.n_trials=[1"], "cannot read the value"),
    ("{}", ["budget=3"], "budget: expected a section"),
    ("budget: [1, 2]", [], "budget: expected a section"),
    ("a: [1", [], "is not valid YAML at line 1"),
    ("- just\n- a list", [], "must hold a mapping"),
])
def test_bad_specs_fail_with_one_line_naming_the_key(tmp_path, text, overrides, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_spec(path, overrides)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message


def test_missing_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="file not found"):
        load_spec(tmp_path / "nope.yaml")


def test_unknown_names_have_their_own_type():
    with pytest.raises(UnknownNameError):
        spec_from_data({"objectives": ["joy"]})


def test_reading_a_spec_imports_no_implementation():
    """Each concept checks its own section through a light registry (sampler_spec,
    early_stopping_spec, training/schedules, compression/knobs), so loading a spec imports
    neither torch nor Optuna nor the modules that train, compress, sample or stop trials."""
    import json
    import subprocess
    import sys

    code = ("import json, sys; from scalesearch.search.config.spec import load_spec; load_spec(); "
            "print(json.dumps(sorted(sys.modules)))")
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                           check=True, cwd=ROOT.parent).stdout))
    heavy = {"torch", "optuna", "timm", "sqlalchemy", "sqlite3", "numpy",
             "scalesearch.search.study.early_stopping", "scalesearch.search.study.samplers",
             "scalesearch.search.training.train", "scalesearch.search.compression.compress",
             "scalesearch.search.runtime.budget", "scalesearch.search.results.pareto",
             # the dataset section is checked by datasets/kinds_spec.py, not by the loaders' registry
             "scalesearch.search.datasets.load", "scalesearch.search.datasets.registry",
             "scalesearch.search.datasets.cache", "scalesearch.search.datasets.base",
             "scalesearch.search.datasets.augment", "scalesearch.search.datasets.split",
             "scalesearch.search.datasets.decode", "scalesearch.search.datasets.imagefolder",
             "scalesearch.search.datasets.torchvision_root",
             # heartbeat defaults come from storage/heartbeat_spec.py, not from the storages
             "scalesearch.search.storage.storage",
             # compression knobs are checked by compression/knobs.py alone
             "scalesearch.search.compression.prune", "scalesearch.search.compression.quantize",
             "scalesearch.search.compression.sparsity"}
    assert sorted(heavy & loaded) == []
