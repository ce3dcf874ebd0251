"""Export a float model to ONNX, and quantize the ONNX graph with onnxruntime's own tools.

Exporter: ``torch.onnx.export(dynamo=True)`` (``torch.export`` + onnxscript), the default and
recommended one since torch 2.9. The TorchScript exporter still exists in torch 2.14 but warns
that it is deprecated and will be removed, so it is not used; the dynamo one takes a few seconds
per small model (``torch.export`` tracing), which is its price. The graph has one input
``input`` (N, C, H, W) float32 with a dynamic batch dimension ``batch`` and one output
``logits`` (N, classes); opset :data:`OPSET`. The preprocessing a model expects is stored as
JSON in the ONNX metadata (key :data:`METADATA_KEY`), so a plain onnxruntime script needs
nothing but the ``.onnx`` file (see ``docs/predict_plain.py``).

int8 (:data:`ONNX_QUANTIZERS`), the counterparts of ``search/compression/quantize.py``'s:

* ``int8_static``: ``onnxruntime.quantization.quantize_static``: QDQ format, int8 per-channel
  weights, uint8 activations with MinMax ranges calibrated on training images, Conv, Gemm and
  MatMul quantized (what torch's ``int8_static`` quantizes: convs and linears);
* ``int8_dynamic``: ``quantize_dynamic``: int8 MatMul/Gemm weights, activations quantized on the
  fly (torch's ``int8_dynamic`` quantizes ``nn.Linear`` only, the same layers).

``bf16``/``fp16`` have no ONNX counterpart here: onnxruntime's CPU execution provider has no
half-precision kernels for most operators (Conv among them), and this onnxruntime build has no
CUDA provider to run or check a half model; such a model is exported as float32 (see
:data:`UNSUPPORTED`).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from scalesearch.errors import OnnxError

OPSET = 20
INPUT, OUTPUT = "input", "logits"
METADATA_KEY = "scalesearch.preprocess"
#: Quantizations with no ONNX counterpart, and why (the ONNX file is then float32).
UNSUPPORTED = {
    name: f"{name} is not applied to the ONNX graph: onnxruntime's CPU execution provider has no "
          "half-precision Conv kernels and this onnxruntime has no CUDA provider; model.onnx is float32"
    for name in ("bf16", "fp16")
}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's and the quantizer's progress chatter (root-logger warnings such
    as "Please consider to run pre-processing", deprecation notices from torch.export)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def set_metadata(path: Path, metadata: dict[str, Any]) -> None:
    """Store ``metadata`` as JSON under :data:`METADATA_KEY` in the ONNX file at ``path``."""
    import onnx

    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    proto.metadata_props.add(key=METADATA_KEY, value=json.dumps(metadata))
    onnx.save(proto, str(path))


def export_onnx(model: Any, shape: tuple[int, ...], path: str | Path,
                metadata: dict[str, Any] | None = None) -> int:
    """Write the float ``model`` (a copy, on the CPU, in eval mode) for inputs of ``shape``
    (C, H, W) to ``path``; returns the opset. Raises :class:`OnnxError` when it cannot export."""
    import onnx
    import torch

    model = copy.deepcopy(model).cpu().float().eval()
    example = torch.zeros((2, *shape))
    try:
        with _quiet():
            program = torch.onnx.export(
                model, (example,), dynamo=True, input_names=[INPUT], output_names=[OUTPUT],
                opset_version=OPSET, dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)
    except Exception as e:  # torch.export / onnxscript raise many types for unsupported graphs
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise OnnxError(f"exporting {type(model).__name__} to ONNX failed ({type(e).__name__}: {first[:300]})") from e
    proto = _lean(program.model_proto)
    if metadata is not None:
        proto.metadata_props.add(key=METADATA_KEY, value=json.dumps(metadata))
    onnx.save(proto, str(path))
    return next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))


def _lean(proto: Any) -> Any:
    """``proto`` without the exporter's debugging annotations (each node's stack trace, FX node,
    module path: about half the file of a small model), which a deployment does not need."""
    for item in [*proto.graph.node, *proto.graph.initializer]:
        del item.metadata_props[:]
        item.doc_string = ""
    return proto


def _reader(batches: list[Any]) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{INPUT: b} for b in batches])

        def get_next(self) -> dict[str, Any] | None:
            return next(self.items, None)

    return Reader()


def _static(src: Path, dst: Path, calibration: list[Any]) -> str:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    quantize_static(str(src), str(dst), _reader(calibration), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    op_types_to_quantize=["Conv", "Gemm", "MatMul"])
    images = sum(len(b) for b in calibration)
    return (f"onnxruntime quantize_static: QDQ, int8 per-channel weights, uint8 activations "
            f"(MinMax over {images} training images); Conv, Gemm, MatMul")


def _dynamic(src: Path, dst: Path, calibration: list[Any]) -> str:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["Gemm", "MatMul"])
    return "onnxruntime quantize_dynamic: int8 Gemm/MatMul weights, activations quantized per batch"


#: torch quantization name -> ``(float .onnx, int8 .onnx, calibration batches) -> description``.
ONNX_QUANTIZERS: dict[str, Callable[[Path, Path, list[Any]], str]] = {
    "int8_static": _static,
    "int8_dynamic": _dynamic,
}


def quantize_onnx(name: str, src: str | Path, dst: str | Path, calibration: list[Any]) -> str:
    """Quantize the float ONNX model ``src`` into ``dst`` as ``name`` says (a key of
    :data:`ONNX_QUANTIZERS`), ``calibration`` being float32 numpy batches (N, C, H, W) of
    training images; the metadata is carried over. Returns what was done, in words."""
    import onnx
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src, dst = Path(src), Path(dst)
    metadata = {p.key: p.value for p in onnx.load(str(src)).metadata_props}
    try:
        with tempfile.TemporaryDirectory() as tmp, _quiet():
            prepared = Path(tmp) / "prepared.onnx"  # shape inference + graph fusions, as ORT advises
            quant_pre_process(str(src), str(prepared))
            description = ONNX_QUANTIZERS[name](prepared, dst, calibration)
    except Exception as e:  # onnxruntime.quantization raises plain exceptions of many types
        raise OnnxError(f"onnxruntime {name} quantization failed ({type(e).__name__}: {e})") from e
    if METADATA_KEY in metadata:
        set_metadata(dst, json.loads(metadata[METADATA_KEY]))
    return description
