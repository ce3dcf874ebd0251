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


def test_affine_is_seeded_keeps_shape_and_strength_zero_is_identity():
    from scalesearch.search.datasets.augment import Affine

    x = torch.randn(16, 3, 8, 8)
    a = Affine(0.5)(x, torch.Generator().manual_seed(1))
    b = Affine(0.5)(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.allclose(a, x)
    assert not Affine(0.0).active and Affine(0.1).active
    assert torch.allclose(Affine(0.0)(x, torch.Generator().manual_seed(1)), x, atol=1e-5)


def test_affine_moves_a_dot_by_at_most_its_largest_shift_rotation_and_scale():
    from scalesearch.search.datasets import augment

    x = torch.zeros(200, 1, 33, 33)
    x[:, :, 16, 24] = 1.0  # 8 px right of the centre
    out = augment.Affine(1.0)(x, torch.Generator().manual_seed(0))
    centre = torch.tensor([16.0, 16.0])
    ys, xs = torch.meshgrid(torch.arange(33.0), torch.arange(33.0), indexing="ij")
    mass = out[:, 0].sum(dim=(1, 2))
    where = torch.stack([(out[:, 0] * ys).sum(dim=(1, 2)), (out[:, 0] * xs).sum(dim=(1, 2))], 1) / mass[:, None]
    moved = (where - torch.tensor([16.0, 24.0])).norm(dim=1)
    turn = 8 * (1 + augment.MAX_SCALE) * 2 * torch.sin(torch.tensor(augment.MAX_ROTATION_DEGREES / 2).deg2rad())
    bound = 33 * augment.MAX_SHIFT * 2**0.5 + turn + 8 * augment.MAX_SCALE + 0.5
    assert moved.max() <= bound and moved.max() > 1.0  # it moves, within what strength 1 allows
    assert (where - centre).norm(dim=1).min() > 8 * (1 - augment.MAX_SCALE) - 33 * augment.MAX_SHIFT * 2**0.5 - 0.5


def test_augmentation_never_touches_the_host():
    """On a device other than the CPU's (meta here), every op of either augmenter runs there:
    no random number drawn on the host and copied over, no value read back per step."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from scalesearch.search.datasets.augment import Affine

    seen = []

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            tensors = [t for t in torch.utils._pytree.tree_leaves((args, kwargs, out)) if isinstance(t, torch.Tensor)]
            seen.append((str(func), {str(t.device) for t in tensors}))
            return out

    x = torch.randn(8, 3, 8, 8, device="meta")
    with Record():
        Augment(crop_padding=2, hflip=True)(x)
        Affine(0.7)(x)
    assert seen and all(devices <= {"meta"} for _, devices in seen), [s for s in seen if s[1] - {"meta"}]
    assert not any("_local_scalar_dense" in name or "_to_copy" in name for name, _ in seen)


def test_epoch_generator_lives_on_the_batch_device_and_follows_the_trainer_seed():
    from scalesearch.search.datasets.augment import epoch_generator

    cpu = torch.Generator().manual_seed(5)
    assert epoch_generator("cpu", cpu) is cpu and epoch_generator("cpu", None) is None
