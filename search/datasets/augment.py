"""On-device batch augmentation: random crop with padding and horizontal flip.

Randomness comes from the trainer's CPU generator (a few numbers per batch), so a seeded run
augments identically on any device. Only shuffled training batches are augmented.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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

    Inputs are normalised, so zero padding pads with the training mean colour.
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
            offsets = torch.randint(0, 2 * p + 1, (2, n), generator=generator).to(x.device)
            x = crop_at(F.pad(x, (p, p, p, p)), offsets[0], offsets[1], tuple(x.shape[-2:]))
        if self.hflip:
            flip = (torch.rand(n, generator=generator) < 0.5).to(x.device)
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        return x
