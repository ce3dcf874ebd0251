"""Contracts over every dataset kind, and the dataset section of the spec."""

from __future__ import annotations

import pytest
import torch

from scalesearch.errors import SpecError, UnknownNameError
from scalesearch.search.config.spec import load_spec, spec_from_data, spec_to_data
from scalesearch.search.datasets import (
    DATASETS,
    Split,
    load_dataset,
    python_data,
)
from scalesearch.search.datasets.spec import DatasetSpec
from tests.datasets_helpers import digits_folder, fake_mnist_root

#: A tiny instance of every registered kind.
EXAMPLES = {
    "digits": lambda tmp: {},
    "imagefolder": lambda tmp: {"root": str(digits_folder(tmp / "imgs", per_class=10, classes=3))},
    "torchvision": lambda tmp: {"name": "MNIST", "root": str(fake_mnist_root(tmp / "tv"))},
    "synthetic": lambda tmp: {"synthetic": {"samples": 60, "classes": 3}},
    "python": lambda tmp: python_data.register((torch.rand(30, 1, 8, 8), torch.arange(30) % 3)),
}


def test_every_kind_has_an_example():
    assert set(EXAMPLES) == set(DATASETS)


def test_the_loaders_and_the_spec_checks_name_the_same_kinds():
    """The spec checks a kind through datasets/kinds_spec.py; the registry loads it: one set of names."""
    from scalesearch.search.datasets.kinds_spec import KINDS
    from scalesearch.search.datasets.registry import LOADERS

    assert list(LOADERS) == list(KINDS) == list(DATASETS)


@pytest.mark.parametrize("kind", list(DATASETS))
def test_every_kind_loads_into_the_trainer_contract(tmp_path, kind):
    spec = spec_from_data({"dataset": {"kind": kind, **EXAMPLES[kind](tmp_path)}})
    data = load_dataset(spec.dataset)
    assert data.num_classes == len(data.class_names) >= 2
    assert len(data.mean) == len(data.std) == data.in_chans
    for split in (data.train, data.val, data.test):
        assert len(split) > 0 and split.num_batches(7) == -(-len(split) // 7)
        x, y = next(split.batches(7, device="cpu"))
        assert x.dtype == torch.float32 and tuple(x.shape[1:]) == (data.in_chans, data.input_size, data.input_size)
        assert y.dtype == torch.long and int(y.min()) >= 0 and int(y.max()) < data.num_classes
    assert set(data.split_record["sizes"]) == {"train", "val", "test"}


def test_the_default_spec_is_still_digits_with_no_extra_keys():
    spec = load_spec()
    assert (spec.dataset.kind, spec.dataset.name) == ("digits", "digits")
    assert spec_from_data(spec_to_data(spec)) == spec
    assert spec_from_data({}).dataset == DatasetSpec()


def test_dataset_section_round_trips_through_stored_data(tmp_path):
    spec = spec_from_data({"dataset": {"kind": "imagefolder", "root": "/data/x", "mean": [0.5, 0.4, 0.3],
                                       "std": [0.2, 0.2, 0.2], "augment": {"crop_padding": 4, "hflip": True},
                                       "on_corrupt": "skip", "class_names": ["a", "b"]},
                           "measure": {"extra_metrics": ["robust_accuracy"], "stability_runs": 4}})
    assert spec.dataset.augment.hflip and spec.dataset.mean == (0.5, 0.4, 0.3)
    assert spec_from_data(spec_to_data(spec)) == spec


@pytest.mark.parametrize(("dataset", "match"), [
    ({"kind": "parquet"}, "unknown kind 'parquet'; choose from digits, imagefolder"),
    ({"name": "cifar10"}, "not the digits dataset; for your own images set dataset.kind: imagefolder"),
    ({"kind": "torchvision", "name": "CIFAR10"}, "needs root"),
    ({"kind": "torchvision", "name": "Imagenet", "root": "/x"}, "not a supported torchvision dataset"),
    ({"in_chans": 2}, "must be 1 \\(grey\\) or 3"),
    ({"mean": [0.1, 0.2]}, "give 1 value or one per channel"),
    ({"in_chans": 1, "std": [0.1, 0.2, 0.3]}, "give 1 value or one per channel"),
    ({"std": [0.0]}, "must be positive"),
    ({"on_corrupt": "ignore"}, "expected one of fail, skip"),
    ({"augment": {"crop_padding": -1}}, "crop_padding: must be >= 0"),
    ({"augment": {"rotate": 10}}, "unknown key in dataset.augment"),
    ({"class_names": ["a", "a"]}, "distinct"),
    ({"max_memory_mb": 0}, "must be positive"),
    ({"num_workers": -1}, "must be >= 0"),
    ({"kind": "synthetic", "synthetic": {"classes": 1}}, "at least 2 classes"),
])
def test_bad_dataset_sections_are_one_line_errors(dataset, match):
    with pytest.raises(SpecError, match=match) as info:
        spec_from_data({"dataset": dataset})
    assert "\n" not in str(info.value)


def test_optional_metric_options_are_validated():
    with pytest.raises(UnknownNameError, match="not an optional metric"):
        spec_from_data({"measure": {"extra_metrics": ["accuracy"]}})
    with pytest.raises(SpecError, match="at least 2 trainings"):
        spec_from_data({"measure": {"stability_runs": 1}})
    spec = spec_from_data({"objectives": ["robust_accuracy", "accuracy_std", "params"]})
    assert spec.directions == ["maximize", "minimize", "minimize"]


def test_class_names_override_and_mismatch(tmp_path):
    data = load_dataset(DatasetSpec(kind="synthetic", class_names=("cat", "dog", "cow", "owl")))
    assert data.class_names == ("cat", "dog", "cow", "owl")
    from scalesearch.errors import DataError
    with pytest.raises(DataError, match="2 names given, but synthetic has 4 classes"):
        load_dataset(DatasetSpec(kind="synthetic", class_names=("cat", "dog")))


def test_the_old_split_class_still_constructs_with_two_fields():
    split = Split(torch.zeros(5, 1, 2, 2), torch.zeros(5, dtype=torch.long))
    assert len(list(split.batches(2, device="cpu"))) == 3
