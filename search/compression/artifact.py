"""A saved model folder, one format for ``train``, ``export-model``, ``load_model`` and ``predict``.

A model folder holds::

    model.yaml             the card: family, its knobs, ``io`` (the input it takes), the
                           compression config and pruning history, how it was made (an export's
                           keys: training, seed, dataset, ...), test results, the ``onnx`` section
    model.safetensors      the quantizer's prepared state: float32 weights (``none``,
                           ``int8_dynamic``), half weights (``bf16``/``fp16``), or weights plus
                           calibrated observer ranges (``int8_static``)
    model.onnx             (and model.int8.onnx) for ``predict`` and plain onnxruntime

:func:`load` rebuilds the model the way it was made: the family's builder from the card, the
pruning history replayed on it (pruned shapes differ from what the builder makes), the saved
state loaded, the quantizer's ``convert`` applied; nothing is unpickled. Folders written by
``export-model`` before this format (``manifest.json`` + ``weights.safetensors``) still load.

Example::

    save("out/trial-12", compressed, card)
    model, card = load("out/trial-12")
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import yaml

from scalesearch.errors import ArtifactError
from scalesearch.search.compression.compress import Compressed, CompressionConfig
from scalesearch.spaces.registry import ModelInput, get_family

CARD, WEIGHTS = "model.yaml", "model.safetensors"
LEGACY_FORMAT = "scalesearch.compressed/1"  # export-model's folders before model.yaml
MANIFEST, LEGACY_WEIGHTS = "manifest.json", "weights.safetensors"
NEEDED = ("family", "model", "io")  # what the card must name to rebuild the model


def _example(io: ModelInput) -> Any:
    import torch

    return torch.zeros((2, io.in_chans, io.input_size, io.input_size))


def save(path: str | Path, compressed: Compressed, card: dict[str, Any]) -> Path:
    """Write ``compressed``'s state to ``path/model.safetensors`` and ``card`` (which names its
    ``family``, ``model`` knobs and ``io``) to ``path/model.yaml``, adding the pruning history."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    write_weights(path, compressed.quant_state)
    card = dict(card) | {"pruning_history": compressed.history}
    (path / CARD).write_text(yaml.safe_dump(card, sort_keys=False))
    return path


def write_weights(path: Path, state: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(path / WEIGHTS))


def compression_data(config: CompressionConfig) -> dict[str, Any]:
    """A compression config as plain data for the card."""
    data = dataclasses.asdict(config)
    if isinstance(data["pruning_profile"], tuple):
        data["pruning_profile"] = list(data["pruning_profile"])
    return data


def read_card(path: str | Path) -> dict[str, Any]:
    """The card of model folder ``path`` (``model.yaml``, or an old ``manifest.json``), checked
    for what rebuilding needs; one-line :class:`ArtifactError` naming what the folder lacks."""
    folder = Path(path)
    if not folder.is_dir():
        raise ArtifactError(f"{folder}: no such model folder; create one with scalesearch train EXPORT -o {folder}")
    if (folder / CARD).is_file():
        file = folder / CARD
        try:
            card = yaml.safe_load(file.read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            raise ArtifactError(f"{file}: cannot be read ({type(e).__name__}); re-create the folder with "
                                "scalesearch train") from None
    elif (folder / MANIFEST).is_file():
        card = _legacy_manifest(folder / MANIFEST)
    else:
        raise ArtifactError(f"{folder}: no {CARD}; a model folder holds {CARD} + {WEIGHTS}, written by "
                            "scalesearch train or export-model")
    if not isinstance(card, dict):
        raise ArtifactError(f"{folder / CARD}: not a model card (expected a mapping); re-create the folder")
    missing = [k for k in NEEDED if k not in card]
    if missing:
        hint = "it is an export, not a model: run scalesearch train on it" if "training" in card else "re-create the folder"
        raise ArtifactError(f"{folder / CARD}: lacks {', '.join(missing)}; {hint}")
    return card


def _legacy_manifest(file: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(file.read_text())
    except json.JSONDecodeError as e:
        raise ArtifactError(f"{file}: not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != LEGACY_FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else None
        raise ArtifactError(f"{file}: format {got!r}, this scalesearch reads {LEGACY_FORMAT!r} or a {CARD}")
    return {k: v for k, v in manifest.items() if k != "input"} | {"io": manifest["input"]}


def restore(model: Any, io: ModelInput, compression: dict[str, Any] | None,
            history: list[list[Any]], state: dict[str, Any]) -> Any:
    """The deployed model from a fresh family ``model``: pruning ``history`` replayed, the saved
    quantizer ``state`` loaded and converted (``state`` alone for an uncompressed model)."""
    from scalesearch.search.compression import prune, quantize

    example = _example(io)
    prune.replay(model, example, history)
    return quantize.restore(CompressionConfig.from_data(compression).quantization, model, example, state)


def load(path: str | Path, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """``(model in eval mode, card)`` from a model folder (:func:`read_card` says what is wrong)."""
    from safetensors.torch import load_file

    folder = Path(path)
    card = read_card(folder)
    weights = next((folder / n for n in (WEIGHTS, LEGACY_WEIGHTS) if (folder / n).is_file()), None)
    if weights is None:
        raise ArtifactError(f"{folder}: has {CARD} but no {WEIGHTS} (the weights); re-create the folder")
    io = ModelInput(**card["io"])
    model = get_family(card["family"]).build(io, **card["model"])
    model = restore(model, io, card.get("compression"), card.get("pruning_history") or [], load_file(str(weights)))
    return model.to(device).eval(), card


def compress_retrained(model: Any, data: Any, export: dict[str, Any], cfg: Any,
                       device: str) -> tuple[Compressed, float] | None:
    """Apply an export's ``compression`` to a model just retrained on ``data`` and deploy it on
    the export's ``deploy.device``: ``(compressed, its accuracy on data.val)`` (in a retrain,
    ``val`` is the held-out test split), or None when the export has no compression."""
    from scalesearch.search.compression.compress import accuracy, compress
    from scalesearch.search.compression.deploy import resolve_deploy_device
    from scalesearch.search.compression.knobs import validate_compression
    from scalesearch.spaces.space import Fixed

    cc = CompressionConfig.from_data(export.get("compression"))
    if not cc.active:
        return None
    deploy = export.get("deploy") or {}
    deploy_device = resolve_deploy_device(deploy.get("device", "same"), device)
    validate_compression({"quantization": Fixed(cc.quantization)},
                         "cuda" if deploy_device.startswith("cuda") else "cpu", where="export.compression")
    out = compress(model, data, cc, train_cfg=cfg, device=device, deploy_device=deploy_device,
                   calibration_samples=deploy.get("calibration_samples", 512))
    return out, accuracy(out.model, data.val, deploy_device)
