"""What keeps a GPU busy while a small model trains: no host sync per step, fast math, a fused
optimizer.

Small models are launch-bound on a GPU: each step queues a few hundred tiny kernels, and any
``.item()`` or ``if tensor:`` in the step loop makes the host wait for all of them before it
queues the next step. So on CUDA:

- :class:`FiniteWatch` checks the loss for NaN/inf on the device and reads the verdict once
  per epoch (on the CPU there is nothing to overlap, so it checks every step and stops at once);
- :func:`speed_settings` turns on TF32 for float32 matmuls and convolutions (bf16 autocast
  covers most of the model; TF32 covers what autocast leaves in float32) and cuDNN autotuning
  (training batches have one shape: the trainer drops the ragged last batch). TF32 is set
  through the ``fp32_precision`` API where torch has it (2.9 on, where ``allow_tf32`` is
  deprecated) and through ``allow_tf32`` on the older torches ``pyproject.toml`` admits (2.5 on);
- :func:`make_optimizer` uses AdamW's fused CUDA kernel (one launch for every parameter), and
  its ``foreach`` implementation on the CPU (torch's CPU default loops over the parameters in
  Python: 1.17 against 0.85 ms per step for a 20K-param ResNet's 62 tensors, one thread);
- :func:`autocast_dtype` is bf16 on GPUs with bf16 tensor cores (compute capability 8.0 on:
  A100, H100, RTX 30xx on); older ones (V100, T4) emulate bf16 slowly or not at all, and fp16
  would need a gradient scaler, so they train in float32.
"""

from __future__ import annotations

from typing import Any


def is_cuda(device: str) -> bool:
    return device.startswith("cuda")


def speed_settings(device: str) -> None:
    """TF32 and cuDNN autotuning for training on ``device`` (nothing on the CPU)."""
    import torch

    if not is_cuda(device):
        return
    _allow_tf32(torch.backends)
    torch.backends.cudnn.benchmark = True


def _allow_tf32(backends: Any) -> None:
    """TF32 for float32 matmuls (cuBLAS) and convolutions (cuDNN), on the API ``backends`` has."""
    matmul, conv = backends.cuda.matmul, getattr(backends.cudnn, "conv", None)
    if hasattr(matmul, "fp32_precision") and hasattr(conv, "fp32_precision"):  # torch >= 2.9
        matmul.fp32_precision = "tf32"
        conv.fp32_precision = "tf32"
    else:  # torch < 2.9: the flags the new API replaced
        matmul.allow_tf32 = True
        backends.cudnn.allow_tf32 = True


def autocast_dtype(device: str, cuda: Any = None) -> Any:
    """The autocast dtype for training on ``device``: ``torch.bfloat16`` on a CUDA GPU of compute
    capability 8.0 or more, else ``None`` (float32). ``cuda`` stands in for ``torch.cuda`` in tests."""
    import torch

    if not is_cuda(device):
        return None
    major, _ = (cuda or torch.cuda).get_device_capability(torch.device(device))
    return torch.bfloat16 if major >= 8 else None


def make_optimizer(params: Any, lr: float, weight_decay: float, device: str) -> Any:
    """AdamW: the fused kernel on CUDA, the multi-tensor (``foreach``) one elsewhere."""
    import torch

    kernel = {"fused": True} if is_cuda(device) else {"foreach": True}
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **kernel)


class FiniteWatch:
    """Finds the first step of an epoch whose loss is NaN or infinite.

    ``deferred`` (the default on CUDA) keeps the verdict on the device: :meth:`step` queues two
    tiny kernels and never waits; :meth:`first_bad` reads it once, at the end of the epoch. Not
    deferred, :meth:`step` reads it at once and says whether training must stop now.
    """

    def __init__(self, device: str, deferred: bool | None = None):
        import torch

        self.deferred = is_cuda(device) if deferred is None else deferred
        self._step = torch.full((), -1, dtype=torch.long, device=device)
        self._loss = torch.zeros((), device=device)
        self._found: tuple[int, float] | None = None

    def step(self, index: int, loss: Any) -> bool:
        """Record step ``index``'s loss; True when (not deferred) it is not finite."""
        import torch

        if not self.deferred:
            if self._found is None and not torch.isfinite(loss):
                self._found = (index, float(loss.item()))
            return self._found is not None
        first = (self._step < 0) & ~torch.isfinite(loss.detach())
        self._step = torch.where(first, index, self._step)
        self._loss = torch.where(first, loss.detach().float(), self._loss)
        return False

    def first_bad(self) -> tuple[int, float] | None:
        """``(step, loss)`` of the first non-finite loss seen, or None."""
        if self._found is None and self.deferred:
            step = int(self._step.item())
            if step >= 0:
                self._found = (step, float(self._loss.item()))
        return self._found
