"""Saved compressed models: plain JSON + safetensors, rebuilt by replaying pruning on a fresh
family model, and giving exactly the outputs of the model that was saved."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
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
    config = {"family": family, "model": small_knobs(family), "training": {}, "seed": 0}
    artifact.save(tmp_path / "m", out, config, IO)
    model, manifest = artifact.load(tmp_path / "m")
    x = data.val.x[:64]
    torch.testing.assert_close(model(x), out.model(x), rtol=0, atol=0)
    assert manifest["compression"]["quantization"] == CASES[case].quantization
    assert json.loads((tmp_path / "m" / artifact.MANIFEST).read_text())["family"] == family
    weights = load_file(str(tmp_path / "m" / artifact.WEIGHTS))
    assert all(isinstance(v, torch.Tensor) for v in weights.values())


def test_every_quantizer_has_an_artifact_case() -> None:
    assert {c.quantization for c in CASES.values()} | {"none"} == set(QUANTIZERS)


def test_loading_never_unpickles(tmp_path, monkeypatch) -> None:
    out = compress(trained("resnet"), digits(), CompressionConfig(pruning_ratio=0.3), train_cfg=TRAIN,
                   device="cpu", deploy_device="cpu")
    artifact.save(tmp_path, out, {"family": "resnet", "model": small_knobs("resnet")}, IO)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([artifact.MANIFEST, artifact.WEIGHTS])

    def refuse(*args, **kwargs):
        raise AssertionError("artifact.load must not unpickle")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    model, _ = artifact.load(tmp_path)
    assert model(digits().val.x[:4]).shape == (4, 10)


def test_missing_or_foreign_directories_are_refused(tmp_path) -> None:
    with pytest.raises(ArtifactError, match="not a saved scalesearch model"):
        artifact.load(tmp_path)
    (tmp_path / artifact.MANIFEST).write_text(json.dumps({"format": "other/9"}))
    with pytest.raises(ArtifactError, match="other/9"):
        artifact.load(tmp_path)
