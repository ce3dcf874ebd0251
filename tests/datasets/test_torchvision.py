"""torchvision roots: read from torchvision's on-disk format, never downloaded."""

from __future__ import annotations

import pytest

from scalesearch.errors import DataError, UnknownNameError
from scalesearch.search.datasets import clear_memory_cache, load_dataset
from scalesearch.search.datasets.spec import DatasetSpec
from scalesearch.search.datasets.torchvision_root import TORCHVISION
from tests.datasets_helpers import fake_mnist_root


@pytest.fixture(autouse=True)
def _fresh():
    clear_memory_cache()
    yield
    clear_memory_cache()


@pytest.mark.parametrize("name", ["MNIST", "FashionMNIST", "KMNIST"])
def test_a_tiny_fake_root_in_the_idx_format_loads(tmp_path, name):
    root = fake_mnist_root(tmp_path / "tv", name=name, train=60, test=20)
    data = load_dataset(DatasetSpec(kind="torchvision", name=name.lower(), root=str(root)))
    assert data.name == name
    assert (data.num_classes, data.in_chans, data.input_size) == (10, 1, 28)
    assert len(data.test) == 20  # the official test set is kept as the test split
    assert (len(data.train), len(data.val)) == (48, 12)  # val carved from the 60 training images
    assert len(data.class_names) == 10


def test_resizing_and_channels_apply_to_torchvision_data(tmp_path):
    root = fake_mnist_root(tmp_path / "tv", train=60, test=10)
    data = load_dataset(DatasetSpec(kind="torchvision", name="MNIST", root=str(root), input_size=14, in_chans=3))
    assert tuple(data.train.x.shape[1:]) == (3, 14, 14)


def test_missing_root_says_how_to_get_the_files(tmp_path):
    root = tmp_path / "nowhere"
    with pytest.raises(DataError, match=r"does not exist; scalesearch never downloads.*CIFAR10\(.*download=True\)"):
        load_dataset(DatasetSpec(kind="torchvision", name="CIFAR10", root=str(root)))
    assert not root.exists()


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_an_empty_root_is_refused_without_downloading(tmp_path, name):
    root = tmp_path / "empty"
    root.mkdir()
    with pytest.raises(DataError, match=f"{name} not found or incomplete.*never downloads"):
        load_dataset(DatasetSpec(kind="torchvision", name=name, root=str(root)))
    assert list(root.rglob("*")) == []  # nothing was fetched or created


def test_unknown_torchvision_name_lists_the_supported_ones(tmp_path):
    with pytest.raises(UnknownNameError, match="choose from MNIST, FashionMNIST"):
        load_dataset(DatasetSpec(kind="torchvision", name="ImageNet", root=str(tmp_path)))
