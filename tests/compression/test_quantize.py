"""Quantizers: every one runs, int8 models agree with float32 on most validation samples,
restoring from the saved state is exact, and no deprecation notice leaks from torch.ao."""

from __future__ import annotations

import warnings

import pytest
import torch

from scalesearch.search.compression import knobs, quantize
from scalesearch.search.compression.compress import calibration_batches, predictions
from scalesearch.search.compression.measure import serialized_size
from tests.compression_helpers import IO, MODELS, digits, small_model, trained

CPU_INT8 = [n for n, q in quantize.QUANTIZERS.items() if q.devices == ("cpu",)]


def test_registry_names_and_devices() -> None:
    assert set(quantize.QUANTIZERS) == {"none", "int8_dynamic", "int8_static", "bf16", "fp16"}
    assert CPU_INT8 == ["int8_dynamic", "int8_static"]
    for name, q in quantize.QUANTIZERS.items():
        assert q.name == name and q.devices and q.description
    # The spec checks quantization names and devices in knobs.py, without this module: the same.
    assert {n: q.devices for n, q in quantize.QUANTIZERS.items()} == knobs.QUANTIZATION_DEVICES


@pytest.mark.parametrize("name", CPU_INT8)
@pytest.mark.parametrize("family", MODELS)
def test_int8_agrees_with_float32_on_most_validation_samples(family: str, name: str) -> None:
    data = digits()
    model = trained(family)
    reference = predictions(model, data.val, "cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. a qconfig torch.ao ignores for some op
        deployed, _ = quantize.quantize(name, model, data.train.x[:2], calibration_batches(data.train, 512))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "inputs of this cat operator must share ... parameters"
        agreement = (predictions(deployed, data.val, "cpu") == reference).float().mean().item()
    assert agreement >= 0.9, f"{family} {name}: only {agreement:.1%} of predictions agree with float32"


@pytest.mark.parametrize("name", list(quantize.QUANTIZERS))
def test_restore_from_saved_state_is_exact_and_quiet(name: str) -> None:
    data = digits()
    x = data.val.x[:32]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        deployed, state = quantize.quantize(name, trained("resnet"), data.train.x[:2],
                                            calibration_batches(data.train, 128))
        restored = quantize.restore(name, small_model("resnet"), data.train.x[:2], state)
        out = deployed(x)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert torch.equal(restored(x), out)
    assert out.shape == (32, IO.num_classes)


def test_size_shrinks_with_int8_static_and_half_precision() -> None:
    data = digits()
    dense = serialized_size(trained("convnext"))
    sizes = {name: serialized_size(quantize.quantize(name, trained("convnext"), data.train.x[:2],
                                                     calibration_batches(data.train, 64))[0])
             for name in ("int8_static", "fp16")}
    assert sizes["int8_static"] < 0.5 * dense  # int8 weights; scales and LayerNorms stay float
    assert sizes["fp16"] < 0.6 * dense


def test_unknown_quantizer_is_refused() -> None:
    with pytest.raises(ValueError, match="int8_dynamic"):
        quantize.get_quantizer("int4")


@pytest.mark.parametrize("name", CPU_INT8)
def test_a_channels_last_model_trained_on_a_gpu_is_int8_quantized_in_nchw_on_the_cpu(name: str) -> None:
    """A model trained on CUDA keeps channels-last weights (and may be bf16); its CPU int8 copy is
    made from contiguous NCHW float32 weights and agrees with the float model."""
    data = digits()
    float_model = trained("resnet")
    reference = predictions(float_model, data.val, "cpu")
    gpu_like = trained("resnet").to(memory_format=torch.channels_last)
    assert any(p.dim() == 4 and not p.is_contiguous() for p in gpu_like.parameters())
    assert all(p.is_contiguous() and p.dtype == torch.float32
               for p in quantize.cpu_nchw(trained("resnet").to(memory_format=torch.channels_last)
                                          .to(torch.bfloat16)).parameters())
    deployed, _ = quantize.quantize(name, gpu_like, data.train.x[:2].to(memory_format=torch.channels_last),
                                    calibration_batches(data.train, 256))
    agreement = (predictions(deployed, data.val, "cpu") == reference).float().mean().item()
    assert agreement >= 0.9, f"{name}: only {agreement:.1%} of predictions agree with float32"


def test_cpu_int8_prepares_from_a_channels_last_model_without_keeping_its_layout() -> None:
    gpu_like = trained("resnet").to(memory_format=torch.channels_last)
    prepared = quantize.get_quantizer("int8_dynamic").prepare(gpu_like, None)
    assert all(p.is_contiguous() for p in prepared.parameters())
