"""Shared by the ONNX tests: digits written as PNG files, and a model folder holding an
(untrained, quickly exported) ONNX model with the card ``scalesearch predict`` reads."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from tests.compression_helpers import IO, digits, small_model


def write_digit_pngs(folder: Path, n: int = 6, split: str = "test") -> list[tuple[Path, int]]:
    """The first ``n`` images of a digits split as 8x8 grey PNGs (un-normalised back to the
    source's 0..16 grey levels, which round-trip through uint8), with their labels."""
    import numpy as np
    from PIL import Image

    data = digits()
    part = getattr(data, split)
    mean, std = np.asarray(data.mean).reshape(-1, 1, 1), np.asarray(data.std).reshape(-1, 1, 1)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        pixels = part.x[i].numpy() * std + mean  # in [0, 1]
        image = np.clip(np.rint(pixels[0] * 255), 0, 255).astype(np.uint8)
        path = folder / f"digit_{i:02d}.png"
        Image.fromarray(image, mode="L").save(path)
        out.append((path, int(part.y[i])))
    return out


@functools.cache
def _untrained_onnx() -> tuple[bytes, dict]:
    import tempfile

    from scalesearch.search.compression.onnx_export import export_onnx
    from scalesearch.search.results.onnx_model import preprocess_of

    preprocess = preprocess_of(digits())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        export_onnx(small_model("resnet"), (IO.in_chans, IO.input_size, IO.input_size), path, preprocess)
        return path.read_bytes(), preprocess


def write_model_dir(folder: Path) -> Path:
    """``folder/model.onnx`` (an untrained resnet for digits) and a ``model.yaml`` naming it."""
    onnx_bytes, preprocess = _untrained_onnx()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(onnx_bytes)
    card = {"family": "resnet", "onnx": {"file": "model.onnx", "predict_file": "model.onnx", "preprocess": preprocess}}
    (folder / "model.yaml").write_text(yaml.safe_dump(card))
    return folder
