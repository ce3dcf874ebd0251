"""A wrapper that feeds a half-precision model the float32 inputs a deployment receives."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class InputCast(nn.Module):
    """``model(x.to(dtype))``; the wrapped model is ``.model`` (its state is what gets saved)."""

    def __init__(self, model: nn.Module, dtype: torch.dtype):
        super().__init__()
        self.model, self.dtype = model, dtype

    def forward(self, x: Any) -> Any:
        return self.model(x.to(self.dtype))
