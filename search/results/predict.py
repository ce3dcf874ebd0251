"""Predict the classes of image files with a saved model's ONNX file, as it was trained to see them.

A model folder is what ``scalesearch train`` or ``export-model`` writes (``model.yaml``; older
``export-model`` folders: ``manifest.json``); its ``onnx`` section names the file to run (``predict_file``: the int8 one
when the model is quantized) and the preprocessing (``preprocess``, also stored in the ONNX
metadata): grey or RGB, the shorter side resized to the input size and centre-cropped (as
``search/datasets/decode.py`` reads an image folder for training), pixels / 255, then
normalised with the training split's mean and std. For an image folder that is exactly the
training path (the same PIL code); in-memory datasets resized by the spec's ``input_size``
(digits, torchvision roots) were resized by torch's bilinear interpolation, which PIL's
approximates to within a grey level or so.

Example::

    model = load_predictor("model/")
    for p in predict(model, image_files(["photos/"]), top_k=3):
        print(p.file, p.top)   # [("7", 0.93), ("1", 0.04), ("9", 0.01)]
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalesearch.errors import ArtifactError, DataError, ScalesearchError

CARDS = ("model.yaml", "manifest.json")  # train and export-model; export-model before model.yaml
PREPROCESS_KEYS = ("in_chans", "input_size", "mean", "std", "class_names")


@dataclass(frozen=True)
class Predictor:
    session: Any  # onnxruntime.InferenceSession
    preprocess: dict[str, Any]
    file: Path  # the .onnx file it runs

    @property
    def class_names(self) -> list[str]:
        return [str(c) for c in self.preprocess["class_names"]]


@dataclass(frozen=True)
class Prediction:
    file: str
    top: list[tuple[str, float]]  # (class name, probability), most probable first


def _card(folder: Path) -> tuple[Path, dict[str, Any]]:
    import yaml

    if not folder.is_dir():
        raise ArtifactError(f"{folder}: no such model folder; create one with scalesearch train EXPORT -o {folder}")
    for name in CARDS:
        path = folder / name
        if not path.is_file():
            continue
        try:
            text = path.read_text()
            card = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as e:
            raise ArtifactError(f"{path}: cannot be read ({type(e).__name__}); re-create the folder with "
                                "scalesearch train") from None
        if not isinstance(card, dict):
            raise ArtifactError(f"{path}: not a model card (expected a mapping); re-create the folder with scalesearch train")
        return path, card
    raise ArtifactError(f"{folder}: no model.yaml or manifest.json; not a saved model (create one with "
                        "scalesearch train EXPORT -o FOLDER)")


def load_predictor(model_dir: str | Path, threads: int | None = None) -> Predictor:
    """The ONNX model of a saved model folder, on onnxruntime's CPU provider, with its preprocessing."""
    from scalesearch.search.compression.onnx_runtime import open_session

    folder = Path(model_dir)
    path, card = _card(folder)
    section = card.get("onnx")
    if not isinstance(section, dict) or "predict_file" not in section:
        raise ArtifactError(f"{path}: no onnx section (saved before ONNX export existed); retrain it with "
                            "scalesearch train to get model.onnx")
    preprocess = section.get("preprocess")
    if not isinstance(preprocess, dict) or any(k not in preprocess for k in PREPROCESS_KEYS):
        raise ArtifactError(f"{path}: onnx.preprocess lacks some of {', '.join(PREPROCESS_KEYS)}; "
                            "re-create the folder with scalesearch train")
    onnx_file = folder / str(section["predict_file"])
    if not onnx_file.is_file():
        raise ArtifactError(f"{onnx_file}: missing; re-create the folder with scalesearch train")
    try:
        session = open_session(onnx_file, "cpu", threads)
    except Exception as e:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
        first = (str(e).strip().splitlines() or [""])[0]
        raise ArtifactError(f"{onnx_file}: onnxruntime cannot load it ({type(e).__name__}: {first[:200]}); "
                            "re-create the folder with scalesearch train") from None
    return Predictor(session, preprocess, onnx_file)


def image_files(paths: list[str | Path]) -> list[Path]:
    """The image files named, and those under named folders (recursively, sorted)."""
    from scalesearch.search.datasets.imagefolder import SUFFIXES

    found: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            inside = sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                            and not any(part.startswith(".") for part in p.relative_to(item).parts))
            if not inside:
                raise DataError(f"{item}: no images in this folder ({', '.join(sorted(SUFFIXES))})")
            found += inside
        elif item.is_file():
            found.append(item)
        else:
            raise DataError(f"{item}: no such image file or folder")
    return found


def _is_colour(img: Any) -> bool:
    import numpy as np

    rgb = np.asarray(img.convert("RGB"), dtype=np.int16)
    return bool((rgb[..., 0] != rgb[..., 1]).any() or (rgb[..., 1] != rgb[..., 2]).any())


def load_image(path: Path, preprocess: dict[str, Any]) -> Any:
    """One image as the model's float32 input (C, H, W), preprocessed as in training."""
    import numpy as np
    from PIL import Image

    from scalesearch.search.datasets.decode import GREY_MODES, square

    chans, size = int(preprocess["in_chans"]), int(preprocess["input_size"])
    try:
        with Image.open(path) as img:
            img.load()
            if chans == 1 and img.mode not in GREY_MODES and not preprocess.get("grey_from_colour") and _is_colour(img):
                raise DataError(f"{path}: a colour ({img.mode}) image, but this model takes 1-channel (grey) "
                                "images; convert it to greyscale first (e.g. PIL's Image.convert('L'))")
            array = np.asarray(square(img.convert("L" if chans == 1 else "RGB"), size), dtype=np.float32) / 255
    except DataError:
        raise
    except Exception as e:  # PIL raises UnidentifiedImageError, OSError, SyntaxError, ...
        raise DataError(f"{path}: cannot read this image ({type(e).__name__}: {e})") from None
    x = array[None] if chans == 1 else array.transpose(2, 0, 1)
    mean = np.asarray(preprocess["mean"], dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(preprocess["std"], dtype=np.float32).reshape(-1, 1, 1)
    return (x - mean) / std


def predict(model: Predictor, files: list[Path], top_k: int = 1, batch_size: int = 64,
            on_skip: Callable[[Path, str], None] | None = None) -> list[Prediction]:
    """The ``top_k`` most probable classes (softmax of the logits) of each image file.

    An image that cannot be used (unreadable, or colour for a grey model) raises its one-line
    :class:`DataError`; with ``on_skip`` it is reported there (file, reason) and the others go
    on, and only when no image at all could be used is the first reason raised."""
    import numpy as np

    from scalesearch.search.compression.onnx_runtime import run_logits

    names = model.class_names
    if not 1 <= top_k <= len(names):
        raise ScalesearchError(f"--top-k {top_k}: this model has {len(names)} classes; give 1 to {len(names)}")
    out: list[Prediction] = []
    first: DataError | None = None
    for start in range(0, len(files), batch_size):
        chunk, inputs = [], []
        for f in files[start:start + batch_size]:
            try:
                inputs.append(load_image(f, model.preprocess))
                chunk.append(f)
            except DataError as e:
                if on_skip is None:
                    raise
                first = first or e
                on_skip(f, str(e))
        if not chunk:
            continue
        logits = run_logits(model.session, np.stack(inputs).astype(np.float32)).astype(np.float64)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        for f, p in zip(chunk, probs, strict=True):
            best = np.argsort(-p, kind="stable")[:top_k]
            out.append(Prediction(str(f), [(names[i], float(p[i])) for i in best]))
    if not out and first is not None:
        raise DataError(str(first) + (f" (and none of the other {len(files) - 1} images could be used either)"
                                      if len(files) > 1 else ""))
    return out


def write_csv(predictions: list[Prediction], path: str | Path) -> Path:
    """One row per file and rank: ``file,rank,class,probability``."""
    import csv

    path = Path(path)
    try:
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["file", "rank", "class", "probability"])
            for p in predictions:
                for rank, (name, prob) in enumerate(p.top, start=1):
                    writer.writerow([p.file, rank, name, f"{prob:.6f}"])
    except OSError as e:
        raise ScalesearchError(f"--csv {path}: cannot write it ({e.strerror or e}); pick a writable file") from None
    return path
