"""Saved compressed models: a model folder (model.yaml + model.safetensors, the format train and
export-model share), rebuilt by replaying pruning on a fresh family model, giving exactly the
outputs of the model that was saved; old export-model folders (manifest.json) still load."""

from __future__ import annotations

import dataclasses
import json
import pickle

import pytest
import torch
import yaml
from safetensors.torch import load_file

from scalesearch.errors import ArtifactError
from scalesearch.search.compression import artifact
from scalesearch.search.compression.compress import CompressionConfig, compress
from scalesearch.search.compression.quantize import QUANTIZERS
from tests.compression_helpers import IO, TRAIN, digits, small_knobs, trained

CASES = {
    "pruned_sparse_float": CompressionConfig(pruning_ratio=0.5, pruning_allocation="uniform", sparsity=0.3),
    "pruned_profile_int8_static": CompressionConfig(pruning_ratio=0.3, pruning_profile=(0.5, 1.0, 1.5),
                                                    quantization="int8_static"),
    "int8_dynamic": CompressionConfig(quantization="int8_dynamic"),
    "pruned_bf16": CompressionConfig(pruning_ratio=0.3, quantization="bf16"),  # cast runs on CPU too
    "fp16": CompressionConfig(quantization="fp16"),
}


@pytest.mark.parametrize("family", ["resnet", "convnext"])
@pytest.mark.parametrize("case", list(CASES))
def test_save_then_load_gives_the_same_outputs(tmp_path, family: str, case: str) -> None:
    data = digits()
    out = compress(trained(family), data, CASES[case], train_cfg=TRAIN, device="cpu", deploy_device="cpu")
    artifact.save(tmp_path / "m", out, _card(family, out))
    model, card = artifact.load(tmp_path / "m")
    x = data.val.x[:64]
    torch.testing.assert_close(model(x), out.model(x), rtol=0, atol=0)
    assert card["compression"]["quantization"] == CASES[case].quantization
    assert yaml.safe_load((tmp_path / "m" / artifact.CARD).read_text())["family"] == family
    weights = load_file(str(tmp_path / "m" / artifact.WEIGHTS))
    assert all(isinstance(v, torch.Tensor) for v in weights.values())


def _card(family: str, out) -> dict:
    return {"family": family, "model": small_knobs(family), "io": dataclasses.asdict(IO),
            "compression": artifact.compression_data(out.config)}


def test_every_quantizer_has_an_artifact_case() -> None:
    assert {c.quantization for c in CASES.values()} | {"none"} == set(QUANTIZERS)


def test_loading_never_unpickles(tmp_path, monkeypatch) -> None:
    out = compress(trained("resnet"), digits(), CompressionConfig(pruning_ratio=0.3), train_cfg=TRAIN,
                   device="cpu", deploy_device="cpu")
    artifact.save(tmp_path, out, _card("resnet", out))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([artifact.CARD, artifact.WEIGHTS])

    def refuse(*args, **kwargs):
        raise AssertionError("artifact.load must not unpickle")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    model, _ = artifact.load(tmp_path)
    assert model(digits().val.x[:4]).shape == (4, 10)


def test_a_folder_is_refused_naming_what_it_lacks(tmp_path) -> None:
    with pytest.raises(ArtifactError, match="nosuch: no such model folder"):
        artifact.load(tmp_path / "nosuch")
    with pytest.raises(ArtifactError, match="no model.yaml; a model folder holds model.yaml \\+ model.safetensors"):
        artifact.load(tmp_path)
    (tmp_path / artifact.CARD).write_text(yaml.safe_dump({"family": "resnet", "model": {}, "io": {}}))
    with pytest.raises(ArtifactError, match="has model.yaml but no model.safetensors"):
        artifact.load(tmp_path)
    (tmp_path / artifact.CARD).write_text(yaml.safe_dump({"family": "resnet", "model": {}, "training": {}}))
    with pytest.raises(ArtifactError, match="lacks io; it is an export, not a model: run scalesearch train on it"):
        artifact.load(tmp_path)
    (tmp_path / artifact.CARD).unlink()
    (tmp_path / artifact.MANIFEST).write_text(json.dumps({"format": "other/9"}))
    with pytest.raises(ArtifactError, match="other/9"):
        artifact.load(tmp_path)


def test_a_folder_of_the_old_export_model_format_still_loads(tmp_path) -> None:
    from safetensors.torch import save_file

    out = compress(trained("resnet"), digits(), CompressionConfig(pruning_ratio=0.3), train_cfg=TRAIN,
                   device="cpu", deploy_device="cpu")
    manifest = {"format": artifact.LEGACY_FORMAT, "family": "resnet", "model": small_knobs("resnet"),
                "input": dataclasses.asdict(IO), "compression": artifact.compression_data(out.config),
                "pruning_history": out.history}
    (tmp_path / artifact.MANIFEST).write_text(json.dumps(manifest))
    save_file({k: v.contiguous() for k, v in out.quant_state.items()}, str(tmp_path / artifact.LEGACY_WEIGHTS))
    model, _ = artifact.load(tmp_path)
    x = digits().val.x[:8]
    torch.testing.assert_close(model(x), out.model(x), rtol=0, atol=0)
