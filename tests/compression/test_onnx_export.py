"""Every family exports to ONNX (tiny sizes), runs on onnxruntime with any batch size, and
matches PyTorch on the test split; pruned models export too; onnxruntime's int8 quantization
runs on every family; a mismatch beyond tolerance is an error."""

from __future__ import annotations

import copy
import json

import numpy as np
import onnx
import pytest
import torch

from scalesearch.errors import OnnxError
from scalesearch.search.compression.compress import (
    CompressionConfig,
    calibration_batches,
    compress,
)
from scalesearch.search.compression.compress import accuracy as torch_accuracy
from scalesearch.search.compression.onnx_export import (
    METADATA_KEY,
    OPSET,
    export_onnx,
    quantize_onnx,
)
from scalesearch.search.compression.onnx_runtime import (
    accuracy,
    check_parity,
    compare,
    open_session,
    run_logits,
)
from scalesearch.search.results.onnx_model import preprocess_of
from scalesearch.spaces.registry import list_families
from tests.compression_helpers import IO, TRAIN, digits, small_model, trained

SHAPE = (IO.in_chans, IO.input_size, IO.input_size)


def _export(model, tmp_path, name="model.onnx"):
    path = tmp_path / name
    opset = export_onnx(model, SHAPE, path, {"note": "test"})
    return path, opset


@pytest.mark.slow
@pytest.mark.parametrize("name", list_families())
def test_every_family_exports_matches_torch_and_quantizes(name, tmp_path) -> None:
    model = small_model(name).eval()
    path, opset = _export(model, tmp_path)
    assert opset == OPSET
    proto = onnx.load(str(path))
    assert {p.key: json.loads(p.value) for p in proto.metadata_props}[METADATA_KEY] == {"note": "test"}
    session = open_session(path, "cpu", threads=1)
    assert session.get_inputs()[0].shape[0] == "batch"  # dynamic batch
    for batch in (1, 7):
        x = torch.randn(batch, *SHAPE)
        with torch.inference_mode():
            expected = model(x).numpy()
        np.testing.assert_allclose(run_logits(session, x.numpy()), expected, atol=1e-4, rtol=1e-4)
    parity = check_parity(session, model, digits().test)
    assert parity.samples == len(digits().test) and parity.top1_agreement == 1.0
    assert parity.max_abs_logit_diff <= parity.tolerance
    calibration = [x.numpy() for x in calibration_batches(digits().train, 64)]
    quantize_onnx("int8_static", path, tmp_path / "int8.onnx", calibration)
    int8 = open_session(tmp_path / "int8.onnx", "cpu", threads=1)
    assert run_logits(int8, np.zeros((3, *SHAPE), np.float32)).shape == (3, IO.num_classes)
    assert {p.key for p in onnx.load(str(tmp_path / "int8.onnx")).metadata_props} == {METADATA_KEY}


@pytest.mark.slow
@pytest.mark.parametrize("name", list_families())
def test_every_family_exports_pruned_and_matches_torch(name, tmp_path) -> None:
    model = small_model(name)
    before = sum(p.numel() for p in model.parameters())
    cc = CompressionConfig(pruning_ratio=0.3)  # no fine-tuning: shapes are what matters here
    out = compress(model, digits(), cc, train_cfg=TRAIN, device="cpu", deploy_device="cpu", calibration_samples=64)
    assert sum(p.numel() for p in out.float_model.parameters()) < before
    path, _ = _export(out.float_model, tmp_path)
    parity = check_parity(open_session(path, "cpu", threads=1), out.float_model, digits().test)
    assert parity.top1_agreement == 1.0


def test_a_pruned_model_exports_with_its_smaller_shapes(tmp_path) -> None:
    model = trained("resnet")
    before = sum(p.numel() for p in model.parameters())
    cc = CompressionConfig(pruning_ratio=0.5, finetune_epochs=1)
    out = compress(model, digits(), cc, train_cfg=TRAIN, device="cpu", deploy_device="cpu", calibration_samples=128)
    assert sum(p.numel() for p in out.float_model.parameters()) < 0.8 * before
    path, _ = _export(out.float_model, tmp_path)
    session = open_session(path, "cpu", threads=1)
    parity = check_parity(session, out.float_model, digits().test)
    assert parity.top1_agreement == 1.0
    assert accuracy(session, digits().test) == pytest.approx(torch_accuracy(out.float_model, digits().test, "cpu"))


def test_int8_static_keeps_a_trained_models_accuracy_and_shrinks_its_weights(tmp_path) -> None:
    model = trained("resnet")
    path, _ = _export(model, tmp_path)
    calibration = [x.numpy() for x in calibration_batches(digits().train, 256)]
    described = quantize_onnx("int8_static", path, tmp_path / "int8.onnx", calibration)
    assert "256 training images" in described
    fp32, int8 = open_session(path, "cpu", 1), open_session(tmp_path / "int8.onnx", "cpu", 1)
    assert accuracy(int8, digits().test) >= accuracy(fp32, digits().test) - 0.05
    # Weights shrink about 4x; a model this small has as many bytes of QDQ nodes as of weights.
    assert _weight_bytes(tmp_path / "int8.onnx") < 0.5 * _weight_bytes(path)


def _weight_bytes(path) -> int:
    return sum(len(i.raw_data) for i in onnx.load(str(path)).graph.initializer)


def test_logits_beyond_tolerance_are_an_error(tmp_path) -> None:
    model = small_model("resnet").eval()
    path, _ = _export(model, tmp_path)
    session = open_session(path, "cpu", threads=1)
    other = copy.deepcopy(model)
    with torch.no_grad():
        other.fc.bias += 0.01  # a 0.01 shift of every logit: 10x the tolerance
    assert compare(session, other, digits().test).max_abs_logit_diff == pytest.approx(0.01, rel=0.01)
    with pytest.raises(OnnxError, match="differ from PyTorch's by up to 0.01"):
        check_parity(session, other, digits().test)


def test_the_preprocessing_travels_in_the_card_and_the_metadata() -> None:
    pre = preprocess_of(digits())
    assert pre["in_chans"] == 1 and pre["input_size"] == 8 and pre["class_names"] == [str(i) for i in range(10)]
    assert len(pre["mean"]) == len(pre["std"]) == 1 and 0 < pre["mean"][0] < 1
    json.dumps(pre)  # plain data
