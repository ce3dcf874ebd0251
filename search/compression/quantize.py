"""Quantization of the deployed model, chosen by name from :data:`QUANTIZERS`.

Every quantizer has one interface: ``prepare(model, example) -> prepared`` (calibration batches
are then run through ``prepared`` when ``calibrate`` is set), ``convert(prepared) -> deployed``.
``prepared.state_dict()`` is plain tensors and is what an artifact stores: reloading is
``convert(prepare(fresh float model))`` after loading that state (``search/compression/artifact.py``).

=============  ======  ==============================================================
name           device  what it does
=============  ======  ==============================================================
none           any     the float32 model as trained
int8_dynamic   cpu     ``nn.Linear`` weights int8, activations quantized on the fly
                       (``torch.ao.quantization.quantize_dynamic``); convs stay float
int8_static    cpu     convs and linears int8 with activation ranges calibrated on
                       training batches: FX graph mode (``prepare_fx``/``convert_fx``),
                       x86 backend, conv+BN(+ReLU) fused
bf16, fp16     cuda    all weights and activations in half precision
=============  ======  ==============================================================

Why ``torch.ao.quantization`` on torch 2.14: it is deprecated in favour of torchao, whose CPU
int8 path goes through ``torch.compile`` (minutes of compile per trial on two cores, and torchao
is not installed here). The ao eager/FX paths still run and give real int8 kernels (fbgemm /
oneDNN) on 2.14. Two deprecation warnings they raise are filtered *only* around our calls into
them, by exact message: "torch.ao.quantization is deprecated" (module-level notice) and
"torch.quantize_per_tensor, torch.quantize_per_channel and other quantized tensor creation
functions ... are deprecated" (quantized dtypes). Every other warning passes through. The static
mapping is x86's default with its activation observer written out as ``quant_min=0,
quant_max=127`` (what its ``reduce_range=True`` means), so the per-observer ``reduce_range``
deprecation is not raised at all. On a torch where ``torch.ao.quantization`` is gone, the two int8 entries must be rewritten
on torchao (``quantize_(model, Int8DynamicActivationInt8WeightConfig())`` + ``torch.compile``);
the interface and the rest of scalesearch stay as they are. See ``docs/compression.md``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from scalesearch.search.compression.knobs import QUANTIZATION_DEVICES as RUNS_ON

_DEPRECATIONS = (
    (r"torch\.ao\.quantization is deprecated", DeprecationWarning),
    (r"torch\.quantize_per_tensor, torch\.quantize_per_channel and other quantized tensor", UserWarning),
)


@contextlib.contextmanager
def ao_deprecations_filtered() -> Iterator[None]:
    """Filter the two known ``torch.ao.quantization`` deprecation notices (see module doc)."""
    with warnings.catch_warnings():
        for message, category in _DEPRECATIONS:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield


@dataclass(frozen=True)
class Quantizer:
    name: str
    devices: tuple[str, ...]  # device types it deploys on ("cpu", "cuda")
    calibrate: bool  # run training batches through the prepared model
    prepare: Callable[[Any, Any], Any]  # (float model, example batch) -> prepared
    convert: Callable[[Any], Any]  # prepared -> deployed
    description: str


def _eval(model: Any, example: Any = None) -> Any:
    return model.eval()


def _identity(prepared: Any) -> Any:
    return prepared


def cpu_nchw(model: Any) -> Any:
    """``model`` on the CPU in float32 with plain NCHW weights, in eval mode.

    A model trained on a GPU keeps its channels-last weights when moved; the CPU would then run
    it (and the int8 kernels derived from it) in NHWC, the layout in which oneDNN's kernels on
    torch 2.14 are known to corrupt the heap (see ``search/training/train.py``'s ``_layout``).
    """
    import torch

    return model.cpu().float().to(memory_format=torch.contiguous_format).eval()


def _dynamic_prepare(model: Any, example: Any) -> Any:
    return cpu_nchw(model)


def _dynamic_convert(prepared: Any) -> Any:
    import torch

    with ao_deprecations_filtered():
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(prepared, {torch.nn.Linear}, dtype=torch.qint8)


def _static_qconfig_mapping() -> Any:
    """x86's default mapping (fixed ranges for sigmoid/hardsigmoid/tanh/softmax, LayerNorm and
    transposed-conv variants), with its activation observer written out as ``quant_min=0,
    quant_max=127`` instead of the deprecated ``reduce_range=True`` it stands for, and
    ``torch.cat`` left in float."""
    import torch

    with ao_deprecations_filtered():
        from torch.ao.quantization import (
            HistogramObserver,
            QConfig,
            QConfigMapping,
            get_default_qconfig_mapping,
        )

        default = get_default_qconfig_mapping("x86")
    activation = HistogramObserver.with_args(dtype=torch.quint8, quant_min=0, quant_max=127)
    reduced = default.global_qconfig.activation

    def explicit(qconfig: Any) -> Any:
        if qconfig is None or qconfig.activation is not reduced:
            return qconfig
        return QConfig(activation=activation, weight=qconfig.weight)

    mapping = QConfigMapping().set_global(explicit(default.global_qconfig))
    for key, qconfig in default.object_type_qconfigs.items():
        mapping.set_object_type(key, explicit(qconfig))
    # A quantized cat needs its inputs on one scale; ViT concatenates its class token (a
    # parameter) with the patch embeddings, which are not. Concatenate in float instead.
    return mapping.set_object_type(torch.cat, None)


def _static_prepare(model: Any, example: Any) -> Any:
    import torch

    torch.backends.quantized.engine = "x86"
    with ao_deprecations_filtered():
        from torch.ao.quantization.quantize_fx import prepare_fx

        example = example.cpu().float().contiguous()
        return prepare_fx(cpu_nchw(model), _static_qconfig_mapping(), example_inputs=(example,))


def _static_convert(prepared: Any) -> Any:
    with ao_deprecations_filtered():
        from torch.ao.quantization.quantize_fx import convert_fx

        return convert_fx(prepared)


def _half_prepare(dtype_name: str) -> Callable[[Any, Any], Any]:
    def prepare(model: Any, example: Any) -> Any:
        import torch

        return model.eval().to(getattr(torch, dtype_name))

    return prepare


def _half_convert(prepared: Any) -> Any:
    from scalesearch.search.compression.input_cast import InputCast

    return InputCast(prepared, next(prepared.parameters()).dtype).eval()


QUANTIZERS: dict[str, Quantizer] = {
    q.name: q
    for q in (
        Quantizer("none", RUNS_ON["none"], False, _eval, _identity, "float32, as trained"),
        Quantizer("int8_dynamic", RUNS_ON["int8_dynamic"], False, _dynamic_prepare, _dynamic_convert,
                  "int8 Linear weights, dynamic activations (torch.ao eager)"),
        Quantizer("int8_static", RUNS_ON["int8_static"], True, _static_prepare, _static_convert,
                  "int8 convs and linears, calibrated activations (torch.ao FX, x86)"),
        Quantizer("bf16", RUNS_ON["bf16"], False, _half_prepare("bfloat16"), _half_convert, "bfloat16 weights and activations"),
        Quantizer("fp16", RUNS_ON["fp16"], False, _half_prepare("float16"), _half_convert, "float16 weights and activations"),
    )
}


def get_quantizer(name: str) -> Quantizer:
    try:
        return QUANTIZERS[name]
    except KeyError:
        raise ValueError(f"unknown quantization {name!r}; choose from {', '.join(QUANTIZERS)}") from None


def quantize(name: str, model: Any, example: Any, calibration: Any = ()) -> tuple[Any, dict[str, Any]]:
    """``(deployed model, prepared state)``: ``calibration`` is an iterable of input batches.

    The float ``model`` is consumed (moved, and for half precision cast, in place).
    """
    import torch

    q = get_quantizer(name)
    prepared = q.prepare(model, example)
    if q.calibrate:
        with torch.inference_mode(), ao_deprecations_filtered():
            for x in calibration:
                prepared(x.cpu().float().contiguous())  # calibrating quantizers run on the CPU
    state = {k: v.detach().clone() for k, v in prepared.state_dict().items()}
    with ao_deprecations_filtered():
        deployed = q.convert(prepared)
    return deployed, state


def restore(name: str, model: Any, example: Any, state: dict[str, Any]) -> Any:
    """The deployed model for a fresh float ``model`` and a state saved by :func:`quantize`."""
    q = get_quantizer(name)
    prepared = q.prepare(model, example)
    prepared.load_state_dict(state)
    with ao_deprecations_filtered():
        return q.convert(prepared)
