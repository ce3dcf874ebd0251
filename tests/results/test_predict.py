"""export -> ``scalesearch train`` writes a checked model.onnx (and model.int8.onnx for an int8
export) -> ``scalesearch predict`` classifies PNG files with the training preprocessing; the
plain onnxruntime script in docs/ says the same; an ``export-model`` folder predicts too."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from contextlib import redirect_stdout

import numpy as np
import pytest
import yaml

from scalesearch import cli
from scalesearch.search.compression.onnx_runtime import open_session, run_logits
from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.results.export import export_data
from scalesearch.search.results.predict import image_files, load_predictor, predict
from scalesearch.search.results.reproduce import export_trial
from scalesearch.search.study.study import open_study, run_study
from tests.compression_helpers import digits, small_knobs
from tests.conftest import ROOT
from tests.onnx_helpers import write_digit_pngs

SPEC = {
    "study_name": "p", "device": "cpu", "threads": 1,
    "objectives": ["accuracy", "size_mb"],
    "measure": {"latency_warmup": 1, "latency_repeats": 2, "latency_batch_size": 4},
    "budget": {"n_trials": 1},
    "deploy": {"device": "cpu", "calibration_samples": 128},
    "space": {
        "name": "tiny", "input_size": 8,
        "families": {"resnet": small_knobs("resnet")},
        "training": {"epochs": 6, "batch_size": 64, "lr": 1e-2},  # the train split alone: 96 steps
        "compression": {"quantization": "int8_static"},
    },
}
N_IMAGES = 12


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A study of one int8 trial, its export retrained by ``scalesearch train``: (folder, stdout, study)."""
    tmp = tmp_path_factory.mktemp("predict")
    storage = f"sqlite:///{tmp / 's.db'}"
    study, spec = open_study(spec_from_data(SPEC), storage)
    run_study(study, spec, data=digits())
    export = tmp / "best.yaml"
    export.write_text(yaml.safe_dump(export_data(study, spec, study.trials[0], storage_url=storage)))
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(["train", str(export), "-o", str(tmp / "model"), "--device", "cpu", "--threads", "1"])
    assert code == 0, out.getvalue()
    return tmp / "model", out.getvalue(), study


def test_train_writes_a_checked_onnx_model_and_an_int8_one(trained) -> None:
    folder, printed, _ = trained
    card = yaml.safe_load((folder / "model.yaml").read_text())
    onnx = card["onnx"]
    assert (folder / "model.onnx").is_file() and (folder / "model.int8.onnx").is_file()
    assert onnx["opset"] == 20 and onnx["predict_file"] == "model.int8.onnx"
    parity = onnx["parity"]
    assert parity["samples"] == card["retrain"]["test_samples"] and parity["split"] == "test"
    assert parity["max_abs_logit_diff"] <= parity["tolerance"] and parity["top1_agreement"] == 1.0
    int8 = onnx["int8"]
    assert int8["test_accuracy_fp32"] == onnx["test_accuracy"] and 0.1 < int8["test_accuracy"] <= 1
    assert "128 training images" in int8["method"]
    assert "max |logit diff|" in printed and "top-1 agreement 100.00 %" in printed
    assert "model.int8.onnx (onnxruntime int8): test accuracy" in printed
    assert f"next: scalesearch predict {folder}" in printed


def test_predict_classifies_a_folder_of_pngs_as_the_model_sees_the_test_split(trained, tmp_path, capsys) -> None:
    folder, _, _ = trained
    images = write_digit_pngs(tmp_path / "pngs", N_IMAGES)
    out_csv = tmp_path / "pred.csv"
    assert cli.main(["predict", str(folder), str(tmp_path / "pngs"), "--top-k", "3", "--csv", str(out_csv)]) == 0
    printed = capsys.readouterr().out
    assert f"{N_IMAGES} images, model.int8.onnx on onnxruntime" in printed and "digit_11.png" in printed
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 3 * N_IMAGES and [r["rank"] for r in rows[:3]] == ["1", "2", "3"]
    top1 = [r["class"] for r in rows if r["rank"] == "1"]
    # The same images straight from the test split's tensors give the same classes, except where
    # the int8 model's top two logits nearly tie (a PNG holds grey levels to 1/255, not exactly).
    session = open_session(folder / "model.int8.onnx")
    logits = run_logits(session, digits().test.x[:N_IMAGES].numpy())
    top2 = np.sort(logits, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 0.1
    direct = [str(c) for c in logits.argmax(axis=1)]
    assert clear.sum() >= N_IMAGES // 2  # the comparison below is not vacuous
    assert [t for t, c in zip(top1, clear, strict=True) if c] == [d for d, c in zip(direct, clear, strict=True) if c]
    assert sum(t == str(label) for t, (_, label) in zip(top1, images, strict=True)) >= N_IMAGES // 2
    probs = [float(r["probability"]) for r in rows[:3]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6


def test_the_plain_onnxruntime_script_in_docs_predicts_the_same(trained, tmp_path) -> None:
    folder, _, _ = trained
    images = [p for p, _ in write_digit_pngs(tmp_path / "pngs", N_IMAGES)]
    for name in ("model.onnx", "model.int8.onnx"):
        done = subprocess.run([sys.executable, str(ROOT / "docs" / "predict_plain.py"), str(folder / name),
                               *map(str, images)], capture_output=True, text=True, check=True, timeout=120)
        plain = [line.split()[-1] for line in done.stdout.strip().splitlines()]
        predictor = load_predictor(folder)
        if name == "model.onnx":
            predictor = type(predictor)(open_session(folder / name), predictor.preprocess, folder / name)
        ours = [p.top[0][0] for p in predict(predictor, images)]
        assert plain == ours, name


def test_an_export_model_folder_has_a_checked_onnx_model_and_predicts(trained, tmp_path) -> None:
    _, _, study = trained
    path = export_trial(study, 0, tmp_path / "trial0", data=digits())
    predictor = load_predictor(path)
    assert predictor.file.name == "model.int8.onnx"
    images = image_files([write_digit_pngs(tmp_path / "pngs", 3)[0][0], tmp_path / "pngs"])
    assert len(images) == 4  # a file named twice (alone and in its folder) is predicted twice
    assert all(len(p.top) == 1 and p.top[0][0] in predictor.class_names for p in predict(predictor, images))
    assert np.isfinite([p.top[0][1] for p in predict(predictor, images)]).all()


def test_an_unreadable_image_is_reported_and_the_others_are_predicted(tmp_path, capsys) -> None:
    from tests.onnx_helpers import write_model_dir

    write_model_dir(tmp_path / "m")
    pngs = [path for path, _ in write_digit_pngs(tmp_path / "imgs", 2)]
    (tmp_path / "imgs" / "broken.png").write_bytes(b"\x89PNG broken")
    assert cli.main(["predict", str(tmp_path / "m"), str(tmp_path / "imgs")]) == 0
    out, err = capsys.readouterr()
    assert all(p.name in out for p in pngs) and "broken.png" not in out
    assert err.count("\n") == 2 and "skipped " in err and "broken.png: cannot read this image" in err
    assert "1 of 3 images skipped" in err and "Traceback" not in err
