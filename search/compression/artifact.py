"""Save and load a compressed model as plain data: no pickled classes, no ``torch.load``.

A saved model is a directory::

    manifest.json          family, its knobs, the input it takes, the compression config,
                           the pruning history, the quantization name
    weights.safetensors    the quantizer's prepared state: float32 weights (``none``,
                           ``int8_dynamic``), half weights (``bf16``/``fp16``), or weights
                           plus calibrated observer ranges (``int8_static``)

:func:`load` rebuilds the model the way the trial made it: the family's builder from the
manifest, the pruning history replayed on it (pruned shapes differ from what the builder
makes), the saved state loaded, the quantizer's ``convert`` applied. Quantization is therefore
reproduced exactly, without storing quantized kernels' packed formats.

Example::

    save("out/trial-12", compressed, config, ModelInput(10, 1, 8))
    model, manifest = load("out/trial-12")
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from scalesearch.errors import ArtifactError
from scalesearch.search.compression.compress import Compressed, CompressionConfig
from scalesearch.spaces.registry import ModelInput, get_family

FORMAT = "scalesearch.compressed/1"
MANIFEST, WEIGHTS = "manifest.json", "weights.safetensors"


def _example(io: ModelInput) -> Any:
    import torch

    return torch.zeros((2, io.in_chans, io.input_size, io.input_size))


def save(path: str | Path, compressed: Compressed, config: dict[str, Any], io: ModelInput) -> Path:
    """Write ``compressed`` (from a trial whose sampled ``config`` built it) to directory ``path``."""
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    cc = dataclasses.asdict(compressed.config)
    if isinstance(cc["pruning_profile"], tuple):
        cc["pruning_profile"] = list(cc["pruning_profile"])
    manifest = {
        "format": FORMAT,
        "family": config["family"],
        "model": config["model"],
        "input": dataclasses.asdict(io),
        "compression": cc,
        "pruning_history": compressed.history,
        "record": {k: v for k, v in compressed.record.items() if isinstance(v, int | float | str | list)},
    }
    (path / MANIFEST).write_text(json.dumps(manifest, indent=1))
    tensors = {k: v.detach().cpu().contiguous() for k, v in compressed.quant_state.items()}
    save_file(tensors, str(path / WEIGHTS), metadata={"format": FORMAT})
    return path


def read_manifest(path: str | Path) -> dict[str, Any]:
    file = Path(path) / MANIFEST
    try:
        manifest = json.loads(file.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path}: no {MANIFEST}; not a saved scalesearch model") from None
    except json.JSONDecodeError as e:
        raise ArtifactError(f"{file}: not valid JSON ({e})") from None
    if manifest.get("format") != FORMAT:
        raise ArtifactError(f"{file}: format {manifest.get('format')!r}, this scalesearch reads {FORMAT!r}")
    return manifest


def restore(model: Any, io: ModelInput, compression: dict[str, Any] | None,
            history: list[list[Any]], state: dict[str, Any]) -> Any:
    """The deployed model from a fresh family ``model``: pruning ``history`` replayed, the saved
    quantizer ``state`` loaded and converted (``state`` alone for an uncompressed model)."""
    from scalesearch.search.compression import prune, quantize

    example = _example(io)
    prune.replay(model, example, history)
    return quantize.restore(CompressionConfig.from_data(compression).quantization, model, example, state)


def load(path: str | Path, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """``(deployed model in eval mode, manifest)`` from a directory written by :func:`save`."""
    from safetensors.torch import load_file

    manifest = read_manifest(path)
    io = ModelInput(**manifest["input"])
    model = get_family(manifest["family"]).build(io, **manifest["model"])
    state = load_file(str(Path(path) / WEIGHTS))
    model = restore(model, io, manifest["compression"], manifest["pruning_history"], state)
    return model.to(device).eval(), manifest


def compress_retrained(model: Any, data: Any, export: dict[str, Any], cfg: Any,
                       device: str) -> tuple[Compressed, float] | None:
    """Apply an export's ``compression`` to a model just retrained on ``data`` and deploy it on
    the export's ``deploy.device``: ``(compressed, its accuracy on data.val)`` (in a retrain,
    ``val`` is the held-out test split), or None when the export has no compression."""
    from scalesearch.search.compression.compress import accuracy, compress, validate_compression
    from scalesearch.search.compression.deploy import resolve_deploy_device
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
