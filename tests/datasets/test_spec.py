"""A written-out ``dataset`` section (an export) names only what its kind reads: an image-folder
study's export used to say ``name: digits`` and carry the synthetic kind's settings."""

from __future__ import annotations

import optuna

from scalesearch.search.config import attrs
from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.datasets.spec import DatasetSpec, for_kind
from scalesearch.search.results.export import export_data
from scalesearch.search.study.study import open_study
from tests.workers_helpers import tiny_spec_data


def test_for_kind_drops_other_kinds_defaults_and_reads_back_the_same():
    images = {"kind": "imagefolder", "name": "digits", "root": "imgs", "synthetic": {"samples": 600},
              "fingerprint": None, "split_seed": 3}
    kept = for_kind(images)
    assert kept == {"kind": "imagefolder", "root": "imgs", "split_seed": 3}
    assert DatasetSpec(**kept) == DatasetSpec(kind="imagefolder", root="imgs", split_seed=3)
    assert for_kind({"kind": "synthetic", "name": "digits", "synthetic": {"samples": 9}})["synthetic"] == {"samples": 9}
    assert for_kind({"kind": "torchvision", "name": "MNIST"})["name"] == "MNIST"


def test_an_image_folder_studys_export_says_nothing_of_digits(tmp_path):
    spec = spec_from_data(tiny_spec_data("f") | {"dataset": {"kind": "imagefolder", "root": "imgs"}})
    study, spec = open_study(spec, f"sqlite:///{tmp_path / 's.db'}")
    config = {"family": "resnet", "model": {}, "training": {}, "seed": 0}
    study.add_trial(optuna.trial.create_trial(values=[0.9, 100.0], system_attrs={attrs.CONFIG: config}))
    exported = export_data(study, spec, study.trials[-1], storage_url="sqlite:///s.db")
    assert "name" not in exported["dataset"] and "synthetic" not in exported["dataset"]
    assert "digits" not in str(exported["dataset"]) and exported["dataset"]["root"] == "imgs"
