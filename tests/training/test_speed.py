"""search/training/speed.py: the finiteness check without a per-step sync, the optimizer, the
CUDA settings (each runnable here on the CPU, where the GPU path degrades to plain settings)."""

from __future__ import annotations

import pytest
import torch

from scalesearch.search.training.speed import (
    FiniteWatch,
    autocast_dtype,
    make_optimizer,
    speed_settings,
)
from scalesearch.search.training.train import Diverged, TrainConfig, train
from scalesearch.spaces.registry import ModelInput, get_family


@pytest.mark.parametrize("deferred", [True, False])
def test_watch_finds_the_first_non_finite_step(deferred):
    watch = FiniteWatch("cpu", deferred=deferred)
    losses = [1.0, 2.0, float("inf"), float("nan"), 3.0]
    stopped_at = None
    for i, value in enumerate(losses):
        if watch.step(i, torch.tensor(value)):
            stopped_at = i
            break
    assert watch.first_bad() == (2, float("inf"))
    assert stopped_at == (None if deferred else 2)  # deferred: the loop never waits for the verdict


def test_watch_with_finite_losses_finds_nothing():
    watch = FiniteWatch("cpu", deferred=True)
    for i in range(5):
        assert not watch.step(i, torch.tensor(float(i)))
    assert watch.first_bad() is None


def test_deferred_watch_never_reads_the_device_inside_the_loop(monkeypatch):
    """The step loop must not call ``.item()`` or ``bool()`` on a tensor (a host sync on CUDA)."""
    watch = FiniteWatch("cpu", deferred=True)

    def refuse(*a, **k):
        raise AssertionError("host sync inside the step loop")

    monkeypatch.setattr(torch.Tensor, "item", refuse)
    monkeypatch.setattr(torch.Tensor, "__bool__", refuse)
    for i in range(3):
        watch.step(i, torch.tensor(float("nan") if i == 1 else 1.0))
    monkeypatch.undo()
    assert watch.first_bad()[0] == 1


def test_cpu_settings_are_left_alone_and_the_optimizer_is_not_fused():
    def settings():
        return (torch.backends.cudnn.benchmark, getattr(torch.backends.cuda.matmul, "fp32_precision", None),
                torch.backends.cuda.matmul.allow_tf32)

    before = settings()
    speed_settings("cpu")
    assert settings() == before
    opt = make_optimizer([torch.nn.Parameter(torch.zeros(2))], 1e-3, 0.0, "cpu")
    assert isinstance(opt, torch.optim.AdamW) and not opt.defaults["fused"]
    assert opt.defaults["foreach"] is True  # torch's CPU default is the per-parameter Python loop


class _Strict:
    """A torch backend flag module that knows only ``names`` (as torch's do: an unknown name,
    read or set, raises AttributeError)."""

    def __init__(self, **names):
        object.__setattr__(self, "_names", dict(names))

    def __getattr__(self, name):
        try:
            return self.__dict__["_names"][name]
        except KeyError:
            raise AttributeError(f"Unknown attribute {name}") from None

    def __setattr__(self, name, value):
        if name not in self._names:
            raise AttributeError(f"Unknown attribute {name}")
        self._names[name] = value


def _fake_backends(monkeypatch, new_api: bool):
    """``torch.backends.cuda``/``cudnn`` as torch >= 2.9 (``fp32_precision``) or torch 2.5 to
    2.8 (``allow_tf32`` only, no ``cudnn.conv``) has them."""
    if new_api:
        matmul = _Strict(fp32_precision="ieee", allow_tf32=False)
        cudnn = _Strict(conv=_Strict(fp32_precision="ieee"), allow_tf32=False, benchmark=False)
    else:
        matmul = _Strict(allow_tf32=False)
        cudnn = _Strict(allow_tf32=False, benchmark=False)
    monkeypatch.setattr(torch.backends, "cuda", _Strict(matmul=matmul))
    monkeypatch.setattr(torch.backends, "cudnn", cudnn)
    return matmul, cudnn


def test_cuda_settings_use_the_fp32_precision_api_where_torch_has_it(monkeypatch):
    matmul, cudnn = _fake_backends(monkeypatch, new_api=True)
    speed_settings("cuda:0")
    assert (matmul.fp32_precision, cudnn.conv.fp32_precision, cudnn.benchmark) == ("tf32", "tf32", True)
    assert (matmul.allow_tf32, cudnn.allow_tf32) == (False, False)  # deprecated there: left alone


def test_cuda_settings_fall_back_to_allow_tf32_on_older_torch(monkeypatch):
    """torch 2.5 to 2.8 (admitted by pyproject.toml) have no ``fp32_precision``: setting it raised."""
    matmul, cudnn = _fake_backends(monkeypatch, new_api=False)
    speed_settings("cuda")
    assert (matmul.allow_tf32, cudnn.allow_tf32, cudnn.benchmark) == (True, True, True)


def test_the_torch_floor_has_every_api_the_code_uses_or_a_fallback():
    """pyproject admits torch 2.5 on: the dynamo ONNX exporter (``torch.onnx.export(dynamo=True)``,
    every saved model's model.onnx) exists from 2.5; ``fp32_precision`` only from 2.9, hence the
    ``allow_tf32`` fallback tested above."""
    import re
    import tomllib

    from tests.conftest import ROOT

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (torch_dep,) = [d for d in deps if re.match(r"torch\s*[<>=]", d)]
    floor = tuple(int(p) for p in re.search(r">=\s*([\d.]+)", torch_dep).group(1).split("."))
    assert floor >= (2, 5), torch_dep
    # The docstrings that name the oldest torch the fallback serves name this floor, not an older one.
    import scalesearch.search.training.speed as speed

    oldest = ".".join(map(str, floor))
    assert f"admits ({oldest} on)" in speed.__doc__
    assert f"torch {oldest} to 2.8" in test_cuda_settings_fall_back_to_allow_tf32_on_older_torch.__doc__
    assert f"torch {oldest} to\n    2.8" in _fake_backends.__doc__


def test_a_diverging_epoch_is_reported_with_its_first_bad_step_when_deferred(tiny_data, monkeypatch):
    """The trainer's CUDA path (deferred check) run on the CPU: training goes on to the end of
    the epoch, then stops with the first step whose loss was not finite."""
    import scalesearch.search.training.speed as speed

    monkeypatch.setattr(speed, "is_cuda", lambda device: True)
    monkeypatch.setattr(speed, "speed_settings", lambda device: None)
    monkeypatch.setattr("scalesearch.search.training.train.speed_settings", lambda device: None)
    monkeypatch.setattr("scalesearch.search.training.train.make_optimizer",
                        lambda p, lr, wd, device: torch.optim.AdamW(p, lr=lr, weight_decay=wd))
    torch.manual_seed(0)
    model = get_family("resnet").build(ModelInput(10, 1, 8), width_multiplier=0.0625, depth_multiplier=0.5)
    with torch.no_grad():
        model.fc.weight.fill_(float("nan"))
    with pytest.raises(Diverged, match="loss became nan at epoch 1, step 0"):
        train(model, tiny_data, TrainConfig(epochs=2, batch_size=16, channels_last=False, amp=False), "cpu")


class _FakeCuda:
    def __init__(self, capability):
        self.capability = capability

    def get_device_capability(self, device):
        return self.capability


@pytest.mark.parametrize("capability, dtype", [((9, 0), torch.bfloat16), ((8, 0), torch.bfloat16),
                                               ((7, 5), None), ((7, 0), None)])
def test_autocast_is_bf16_only_where_the_gpu_has_it(capability, dtype):
    """H100/A100 train in bf16; a T4 (7.5) or V100 (7.0) trains in float32 instead of crawling
    through emulated bf16."""
    assert autocast_dtype("cuda:0", cuda=_FakeCuda(capability)) is dtype


def test_no_autocast_on_the_cpu():
    assert autocast_dtype("cpu", cuda=_FakeCuda((9, 0))) is None
