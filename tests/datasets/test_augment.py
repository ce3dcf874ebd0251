"""On-device augmentation: shapes, randomness from the trainer's generator, training only."""

from __future__ import annotations

import torch

from scalesearch.search.datasets import Augment, load_dataset
from scalesearch.search.datasets.spec import AugmentSpec, DatasetSpec


def test_crop_keeps_shape_and_moves_content_by_at_most_the_padding():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).view(2, 1, 6, 6) + 1
    out = Augment(crop_padding=2)(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    for i in range(2):  # each output is a window of the zero-padded input
        padded = torch.nn.functional.pad(x[i], (2, 2, 2, 2))
        windows = [padded[:, r:r + 6, c:c + 6] for r in range(5) for c in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)


def test_flip_mirrors_some_images_and_is_seeded():
    x = torch.randn(64, 3, 5, 5)
    a = Augment(hflip=True)(x, torch.Generator().manual_seed(3))
    b = Augment(hflip=True)(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    flipped = [torch.equal(a[i], x[i].flip(2)) for i in range(64)]
    kept = [torch.equal(a[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True)) and 10 < sum(flipped) < 54


def test_only_shuffled_training_batches_are_augmented():
    plain = load_dataset(DatasetSpec())
    aug = load_dataset(DatasetSpec(augment=AugmentSpec(crop_padding=2, hflip=True)))
    assert aug.val.augment is None and aug.test.augment is None
    (xa, _), (xp, _) = next(aug.train.batches(16, device="cpu")), next(plain.train.batches(16, device="cpu"))
    assert torch.equal(xa, xp)  # evaluation order: untouched
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    xa, ya = next(aug.train.batches(16, device="cpu", shuffle=True, generator=g1))
    xp, yp = next(plain.train.batches(16, device="cpu", shuffle=True, generator=g2))
    assert torch.equal(ya, yp) and not torch.equal(xa, xp)


def test_crops_have_plain_nchw_strides_for_any_channel_count():
    for channels in (1, 3):  # a channels-last-looking batch sends the CPU convolutions down a buggy path
        out = Augment(crop_padding=1)(torch.randn(5, channels, 8, 8), torch.Generator().manual_seed(0))
        assert out.stride() == (channels * 64, 64, 8, 1)
