"""``kind: python``: data given in Python is read once, checked, fingerprinted, then split and
recorded like every other kind; another process is refused in one line."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from scalesearch.errors import DataError, SpecError
from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.datasets import load_dataset, python_data
from scalesearch.search.datasets.spec import DatasetSpec


def tensors(n=60, classes=3, size=8, chans=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = torch.rand(n, chans, size, size, generator=g) + y.view(-1, 1, 1, 1)
    return x, y


def spec_for(fields, **changes):
    return dataclasses.replace(DatasetSpec(), **{k: v for k, v in fields.items() if v is not None or k == "root"}, **changes)


def test_tensors_are_split_stratified_and_recorded_like_any_kind():
    x, y = tensors()
    fields = python_data.register((x, y))
    assert fields["kind"] == "python" and len(fields["fingerprint"]) == 64
    data = load_dataset(spec_for(fields))
    assert (data.num_classes, data.in_chans, data.input_size) == (3, 1, 8)
    assert len(data.train) + len(data.val) + len(data.test) == 60
    assert data.split_record["samples"] == 60 and data.split_record["sizes"] == {"train": 36, "val": 12, "test": 12}
    for split in (data.train, data.val, data.test):
        assert sorted(torch.bincount(split.y).tolist()) == [len(split) // 3] * 3  # stratified
    again = load_dataset(spec_for(fields), record=data.split_record)  # a resume reads the recorded split
    assert torch.equal(again.val.x, data.val.x)


def test_the_fingerprint_follows_the_content():
    x, y = tensors()
    key = python_data.register((x, y))["fingerprint"]
    assert python_data.register((x.clone(), y.clone()))["fingerprint"] == key
    assert python_data.register((x.numpy(), y.numpy()))["fingerprint"] == key
    x[0, 0, 0, 0] += 1
    assert python_data.register((x, y))["fingerprint"] != key
    assert python_data.register({"x": x, "y": y, "class_names": ["a", "b", "c"]})["fingerprint"] != key


def test_a_torch_dataset_reads_like_its_tensors():
    x, y = tensors()
    from_tensors = python_data.register((x, y))["fingerprint"]
    assert python_data.register(torch.utils.data.TensorDataset(x, y))["fingerprint"] == from_tensors
    assert python_data.register({"dataset": torch.utils.data.TensorDataset(x, y)})["fingerprint"] == from_tensors


def test_class_count_and_input_size_given_or_inferred():
    x, y = tensors(size=12, chans=3)
    inferred = load_dataset(spec_for(python_data.register((x[:, 0], y))))  # (N, H, W): one channel
    assert (inferred.num_classes, inferred.in_chans, inferred.input_size) == (3, 1, 12)
    given = python_data.register({"x": x, "y": y, "num_classes": 5, "input_size": 6, "name": "scans"})
    data = load_dataset(spec_for(given))
    assert (data.name, data.num_classes, data.in_chans, data.input_size) == ("scans", 5, 3, 6)
    assert data.class_names == ("0", "1", "2", "3", "4")
    wide = torch.rand(60, 1, 8, 10)
    resized = load_dataset(spec_for(python_data.register({"x": wide, "y": y, "input_size": 8})))
    assert resized.train.x.shape[-2:] == (8, 8)


def test_uint8_images_are_scaled_like_decoded_files():
    x, y = tensors()
    as_bytes = (x / x.max() * 255).to(torch.uint8)
    data = load_dataset(spec_for(python_data.register((as_bytes, y))))
    assert abs(float(data.train.x.mean())) < 0.2  # normalised by the training statistics


BAD = [
    ((torch.rand(10, 1, 8, 8), torch.arange(9) % 2), "x has 10 samples but y has 9 labels"),
    ((torch.rand(10, 1, 8, 8), torch.rand(10)), "y must hold integer class indices"),
    ((torch.rand(10, 1, 8, 8), -(torch.arange(10) % 2)), "negative label"),
    ((torch.rand(10, 1, 8, 8), torch.zeros(10, 2, dtype=torch.long)), r"shape \(N,\), got shape \(10, 2\)"),
    ((torch.rand(10, 64), torch.arange(10) % 2), r"\(N, C, H, W\) or \(N, H, W\), got shape \(10, 64\)"),
    ((torch.rand(10, 1, 8, 6), torch.arange(10) % 2), "images are 8x6 pixels; give input_size"),
    ((torch.full((10, 1, 8, 8), float("nan")), torch.arange(10) % 2), "NaN"),
    ({"x": torch.rand(10, 8, 8), "y": torch.arange(10) % 4, "num_classes": 3}, "y holds label 3 but there are 3 classes"),
    ({"x": torch.rand(10, 8, 8), "y": torch.arange(10) % 2, "class_names": ["a", "b", "c"], "num_classes": 2},
     "3 class_names but num_classes is 2"),
    ({"x": torch.rand(10, 8, 8), "y": torch.arange(10) % 2, "classes": 2}, "unknown key 'classes'"),
    ({"x": torch.rand(10, 8, 8)}, "give both x"),
    ({"x": torch.rand(10, 8, 8), "y": torch.arange(10) % 2, "input_size": 0}, "input_size must be a positive"),
    ((torch.rand(10, 8, 8),), r"expected \(x, y\)"),
    (42, "expected \\(x, y\\) tensors, a torch Dataset or a dict, got int"),
    ([(torch.rand(1, 8, 8), 0, "extra")] * 4, r"dataset\[0\] is not an \(image, label\) pair"),
    ([(torch.rand(1, 8, 8), 0), (torch.rand(1, 6, 6), 1)], r"dataset\[1\]'s image has shape \(1, 6, 6\)"),
    ([(torch.rand(1, 8, 8), 0.5)] * 2, r"dataset\[0\]'s label is 0.5"),
    ([], "the dataset is empty"),
]


@pytest.mark.parametrize("data,message", BAD, ids=[m[:30] for _, m in BAD])
def test_bad_data_is_one_clear_error(data, message):
    with pytest.raises(DataError, match=message) as info:
        python_data.register(data)
    assert "\n" not in str(info.value)


def test_a_spec_file_cannot_name_python_data():
    with pytest.raises(SpecError, match="set by scalesearch.run"):
        spec_from_data({"dataset": {"kind": "python"}})


def test_another_process_is_refused_in_one_line():
    spec = DatasetSpec(kind="python", name="python", fingerprint="ab" * 32)  # never registered here
    with pytest.raises(DataError, match="came from Python .* exists only in the process that passed it") as info:
        load_dataset(spec)
    assert "\n" not in str(info.value)


def test_only_a_few_datasets_are_held():
    keys = [python_data.register(tensors(seed=s))["fingerprint"] for s in range(python_data._KEEP + 1)]
    assert not python_data.available(keys[0]) and all(python_data.available(k) for k in keys[1:])
    assert np.asarray(python_data.load(DatasetSpec(kind="python", fingerprint=keys[-1])).labels).shape == (60,)
