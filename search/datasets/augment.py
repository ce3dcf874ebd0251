"""On-device batch augmentation, drawn on the batch's device: nothing crosses to or from the host.

Two kinds, both applied to shuffled training batches only:

- :class:`Augment` (the ``dataset.augment`` section): random crop after padding, random
  horizontal flip; what suits the data (no flips for digits or text).
- :class:`Affine` (the searched ``augment`` training knob): small random rotations, scalings
  and shifts of each image, by ``affine_grid``/``grid_sample``; ``strength`` 0 is off and 1
  the most a digit survives without changing its meaning.

Random numbers come from a generator on the batch's device (:func:`device_generator`), seeded
from the trainer's seed, so a seeded run is reproducible on each device and a GPU step never
waits for a host-to-device copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: At ``strength`` 1: rotation up to this many degrees either way ...
MAX_ROTATION_DEGREES = 15.0
#: ... scale by up to this fraction either way ...
MAX_SCALE = 0.15
#: ... and shift by up to this fraction of the image's side either way (1 px of 8 at 0.125).
MAX_SHIFT = 0.125


def device_generator(device: Any, seed: int) -> Any:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    import torch

    return torch.Generator(device=torch.device(device)).manual_seed(int(seed))


def epoch_generator(device: Any, generator: Any) -> Any:
    """A generator on ``device`` for one pass, seeded by one draw from ``generator`` (the
    trainer's CPU generator, read on the host): no device sync. None without a generator."""
    import torch

    if generator is None:
        return None
    if torch.device(device) == generator.device:
        return generator
    return device_generator(device, int(torch.randint(0, 2**62, (1,), generator=generator)))


def crop_at(padded: Any, top: Any, left: Any, size: tuple[int, int]) -> Any:
    """Per-sample crops of ``size`` from ``padded`` (B, C, H', W') at offsets ``top``, ``left`` (B,)."""
    import torch

    h, w = size
    n, c = padded.shape[:2]
    device = padded.device
    rows = (top.view(-1, 1) + torch.arange(h, device=device)).view(n, 1, h, 1)
    cols = (left.view(-1, 1) + torch.arange(w, device=device)).view(n, 1, 1, w)
    batch = torch.arange(n, device=device).view(n, 1, 1, 1)
    channel = torch.arange(c, device=device).view(1, c, 1, 1)
    # Every dim indexed and broadcast to (B, C, h, w): the result has plain NCHW strides (a
    # permuted result reads as channels-last, which the CPU convolutions mishandle).
    return padded[batch, channel, rows, cols]


@dataclass(frozen=True)
class Augment:
    """Random crop after padding each side by ``crop_padding`` pixels, and random ``hflip``.

    Inputs are normalised, so zero padding pads with the training mean colour. ``generator``
    must live on the batch's device (:func:`epoch_generator`).
    """

    crop_padding: int = 0
    hflip: bool = False

    @property
    def active(self) -> bool:
        return self.crop_padding > 0 or self.hflip

    def __call__(self, x: Any, generator: Any = None) -> Any:
        import torch
        import torch.nn.functional as F

        n = x.shape[0]
        if self.crop_padding > 0:
            p = self.crop_padding
            offsets = torch.randint(0, 2 * p + 1, (2, n), generator=generator, device=x.device)
            x = crop_at(F.pad(x, (p, p, p, p)), offsets[0], offsets[1], tuple(x.shape[-2:]))
        if self.hflip:
            flip = torch.rand(n, generator=generator, device=x.device) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        return x


@dataclass(frozen=True)
class Affine:
    """Random rotation, scale and shift of each image, up to ``strength`` times the maxima above.

    Pixels that come in from outside repeat the border (the background, for digits). Nothing
    flips or shears: a mirrored or slanted digit can be another digit.
    """

    strength: float = 0.0

    @property
    def active(self) -> bool:
        return self.strength > 0

    def __call__(self, x: Any, generator: Any = None) -> Any:
        import torch
        import torch.nn.functional as F

        n, s = x.shape[0], self.strength
        u = torch.rand(4, n, generator=generator, device=x.device, dtype=torch.float32).mul_(2).sub_(1)
        angle = u[0] * (s * math.radians(MAX_ROTATION_DEGREES))
        scale = 1 + u[1] * (s * MAX_SCALE)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        shift = u[2:] * (2 * s * MAX_SHIFT)  # affine_grid's coordinates span 2 per side
        theta = torch.stack([torch.stack([cos, -sin, shift[0]], 1), torch.stack([sin, cos, shift[1]], 1)], 1)
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
