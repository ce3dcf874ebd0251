"""``model.onnx`` beside a retrained (``train``) or re-run (``export-model``) model, checked.

:func:`write_onnx` exports the float model, runs it with onnxruntime (CPU) on the test split
and compares it with PyTorch there: the max absolute logit difference and the top-1 agreement
are returned for ``model.yaml``, and a difference beyond tolerance is an error (the file is
removed). With an int8 quantization the ONNX graph is also quantized by onnxruntime, calibrated
on training images, into ``model.int8.onnx``, whose test accuracy is reported beside the
float32 one. ``predict_file`` names the file ``scalesearch predict`` runs (the int8 one when
there is one: it is the deployed model).

The section, as stored::

    onnx:
      file: model.onnx
      opset: 20
      parity: {max_abs_logit_diff: 2.4e-07, top1_agreement: 1.0, samples: 360, tolerance: 0.00103, split: test}
      test_accuracy: 0.9667
      int8: {file: model.int8.onnx, method: ..., test_accuracy: 0.9611, top1_agreement_with_fp32: 0.99}
      predict_file: model.int8.onnx
      preprocess: {in_chans: 1, input_size: 8, mean: [...], std: [...], class_names: [...], ...}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scalesearch.errors import OnnxError

ONNX_FILE, INT8_FILE = "model.onnx", "model.int8.onnx"


def preprocess_of(data: Any, grey_from_colour: bool = False) -> dict[str, Any]:
    """What an image goes through before the model, as plain data (stored in model.yaml and in
    the ONNX metadata): decode, resize, scale, normalise; and the class names of the outputs."""
    return {
        "in_chans": data.in_chans, "input_size": data.input_size,
        "mean": [float(m) for m in data.mean], "std": [float(s) for s in data.std],
        "class_names": list(data.class_names),
        "steps": "grey (L) or RGB; shorter side resized to input_size (bilinear), centre crop; "
                 "pixels / 255; (x - mean) / std per channel; NCHW float32",
        "grey_from_colour": grey_from_colour,  # the training data turned colour images grey
    }


def write_onnx(float_model: Any, data: Any, folder: str | Path, quantization: str = "none",
               calibration_samples: int = 512, grey_from_colour: bool = False) -> dict[str, Any]:
    """Export ``float_model`` (trained on ``data``) to ``folder/model.onnx``, check it on
    ``data.test``, quantize it for an int8 ``quantization``; returns the ``onnx`` section."""
    import onnxruntime as ort
    import torch

    from scalesearch.search.compression.compress import calibration_batches
    from scalesearch.search.compression.onnx_export import (
        ONNX_QUANTIZERS,
        UNSUPPORTED,
        export_onnx,
        quantize_onnx,
    )
    from scalesearch.search.compression.onnx_runtime import (
        accuracy,
        agreement,
        check_parity,
        open_session,
    )

    folder = Path(folder)
    path = folder / ONNX_FILE
    preprocess = preprocess_of(data, grey_from_colour)
    opset = export_onnx(float_model, (data.in_chans, data.input_size, data.input_size), path, preprocess)
    session = open_session(path, "cpu")
    try:
        parity = check_parity(session, float_model, data.test, what=str(path))
    except OnnxError:
        path.unlink(missing_ok=True)
        raise
    section: dict[str, Any] = {
        "file": ONNX_FILE, "opset": opset,
        "input": "input: float32 (batch, C, H, W), batch dynamic", "output": "logits: float32 (batch, classes)",
        "exporter": f"torch.onnx.export(dynamo=True), torch {torch.__version__.split('+')[0]}",
        "onnxruntime": ort.__version__,
        "parity": parity.as_dict() | {"split": "test", "runtime": "onnxruntime CPU vs PyTorch"},
        "test_accuracy": round(accuracy(session, data.test), 6),
        "predict_file": ONNX_FILE,
    }
    if quantization in ONNX_QUANTIZERS:
        calibration = [x.float().numpy() for x in calibration_batches(data.train, calibration_samples)]
        method = quantize_onnx(quantization, path, folder / INT8_FILE, calibration)
        int8 = open_session(folder / INT8_FILE, "cpu")
        section["int8"] = {"file": INT8_FILE, "method": method,
                           "test_accuracy": round(accuracy(int8, data.test), 6),
                           "test_accuracy_fp32": section["test_accuracy"],
                           "top1_agreement_with_fp32": round(agreement(int8, session, data.test), 6),
                           "size_bytes": (folder / INT8_FILE).stat().st_size}
        section["predict_file"] = INT8_FILE
    elif quantization in UNSUPPORTED:
        section["quantization"] = UNSUPPORTED[quantization]
    section["size_bytes"] = path.stat().st_size
    section["preprocess"] = preprocess
    return section


def describe(section: dict[str, Any]) -> list[str]:
    """Lines for people: what was exported and how well it matches."""
    if not section:
        return []
    p = section["parity"]
    lines = [f"{section['file']} (opset {section['opset']}, dynamic batch): onnxruntime vs PyTorch on "
             f"{p['samples']} test images: max |logit diff| {p['max_abs_logit_diff']:.2g} "
             f"(tolerance {p['tolerance']:.2g}), top-1 agreement {100 * p['top1_agreement']:.2f} %, "
             f"test accuracy {section['test_accuracy']:.4f}"]
    if "int8" in section:
        q = section["int8"]
        lines.append(f"{q['file']} (onnxruntime int8): test accuracy {q['test_accuracy']:.4f} vs float32 "
                     f"{q['test_accuracy_fp32']:.4f}; top-1 agreement with float32 "
                     f"{100 * q['top1_agreement_with_fp32']:.2f} %; {q['size_bytes'] / 1e3:.1f} kB vs "
                     f"{section['size_bytes'] / 1e3:.1f} kB")
    if "quantization" in section:
        lines.append(section["quantization"])
    return lines
