"""An exponential moving average (EMA) of a model's weights, updated on the device.

Small models trained for a few hundred steps end on whichever minibatch came last; the average
of the weights over the last stretch of training generalises better and costs one fused
update per step. BatchNorm's running statistics are averaged too (timm's ``ModelEmaV2`` does
the same), so the averaged copy can be evaluated and deployed as it is.

The decay warms up as ``min(decay, (1 + t) / (10 + t))`` after ``t`` updates, so that an early
average is not dominated by the random initial weights. The decay is a host-side float:
no update reads anything back from the device.
"""

from __future__ import annotations

import copy
from typing import Any


class WeightAverage:
    """``WeightAverage(model, 0.99)``; call :meth:`update` after each optimizer step,
    evaluate :attr:`model`, and :meth:`copy_to` the trained model at the end."""

    def __init__(self, model: Any, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema decay must be in (0, 1), got {decay}")
        self.decay, self.updates = decay, 0
        self._cached: tuple[int, tuple[list[Any], ...]] | None = None
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    def _pairs(self, live: Any) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
        """(averaged floats, live floats, averaged others, live others), in state-dict order;
        the same tensors every step, so they are gathered once per live model."""
        if self._cached is not None and self._cached[0] == id(live):
            return self._cached[1]  # type: ignore[return-value]
        avg_state, live_state = self.model.state_dict(), live.state_dict()
        floats = [k for k, v in avg_state.items() if v.is_floating_point()]
        others = [k for k in avg_state if k not in set(floats)]
        pairs = ([avg_state[k] for k in floats], [live_state[k].detach() for k in floats],
                 [avg_state[k] for k in others], [live_state[k] for k in others])
        self._cached = (id(live), pairs)
        return pairs

    def update(self, live: Any) -> None:
        """Move the average towards ``live``'s current weights and buffers."""
        import torch

        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        avg, new, avg_other, new_other = self._pairs(live)
        with torch.no_grad():
            torch._foreach_lerp_(avg, new, 1.0 - decay)
            for a, b in zip(avg_other, new_other, strict=True):
                a.copy_(b)

    def copy_to(self, live: Any) -> None:
        """Load the averaged weights and buffers into ``live``."""
        live.load_state_dict(self.model.state_dict())
