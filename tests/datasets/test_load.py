"""Digits: stratified, seeded, disjoint splits; normalised; resizable."""

from __future__ import annotations

import pytest
import torch

from scalesearch.errors import UnknownNameError
from scalesearch.search.datasets import load_dataset


def test_digits_split_is_stratified_disjoint_and_seeded():
    a = load_dataset("digits", split_seed=0)
    assert (len(a.train), len(a.val), len(a.test)) == (1077, 360, 360)
    assert a.num_classes == 10 and a.in_chans == 1 and a.input_size == 8
    for split in (a.train, a.val, a.test):
        counts = torch.bincount(split.y, minlength=10).float()
        assert counts.min() / counts.max() > 0.85  # stratified: classes stay balanced
    rows = lambda s: {tuple(r.tolist()) for r in s.x.flatten(1)}  # noqa: E731
    assert not rows(a.val) & rows(a.test)
    b = load_dataset("digits", split_seed=0)
    c = load_dataset("digits", split_seed=1)
    assert torch.equal(a.val.y, b.val.y) and not torch.equal(a.val.y, c.val.y)


def test_train_statistics_normalise():
    d = load_dataset("digits")
    assert abs(d.train.x.mean().item()) < 1e-4 and abs(d.train.x.std().item() - 1) < 1e-2


def test_resize():
    assert load_dataset("digits", input_size=16).train.x.shape[1:] == (1, 16, 16)


def test_batches_cover_the_split_once():
    d = load_dataset("digits")
    seen = sum(len(y) for _, y in d.val.batches(100, device="cpu"))
    assert seen == len(d.val)
    assert d.train.num_batches(64, drop_last=True) == 1077 // 64


def test_unknown_dataset():
    with pytest.raises(UnknownNameError, match="unknown dataset 'imagenet'"):
        load_dataset("imagenet")
