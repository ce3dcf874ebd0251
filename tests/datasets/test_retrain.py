"""The retrain after a search sees the split the study recorded, in memory or streamed."""

from __future__ import annotations

import pytest
import yaml

from scalesearch.errors import DataError, SpecError
from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.datasets import clear_memory_cache
from scalesearch.search.datasets.recorded import split_record
from scalesearch.search.results.export import export_data, select_trial
from scalesearch.search.results.retrain import read_export, retrain
from scalesearch.search.study.study import open_study, run_study
from tests.conftest import FakeTrainer
from tests.datasets_helpers import TINY_SPACE, digits_folder


def exported(tmp_path, **dataset):
    root = digits_folder(tmp_path / "imgs", per_class=10, classes=3)
    spec = spec_from_data({"space": TINY_SPACE, "budget": {"n_trials": 2}, "device": "cpu", "threads": 1,
                           "dataset": {"kind": "imagefolder", "root": str(root), **dataset},
                           "measure": {"latency_repeats": 1, "latency_warmup": 1}})
    storage = f"sqlite:///{tmp_path / 's.db'}"
    study, spec = open_study(spec, storage)
    run_study(study, spec, trainer=FakeTrainer())
    data = export_data(study, spec, select_trial(study, spec), storage_url=storage)
    path = tmp_path / "best.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return root, study, read_export(path)


@pytest.mark.parametrize(("stream", "fit"), [(False, "train"), (True, "train+val")])
def test_retrain_uses_the_recorded_split(tmp_path, stream, fit):
    _, study, export = exported(tmp_path, stream=stream, num_workers=0)
    assert export["split"] == split_record(study)
    result = retrain(export, tmp_path / "model", device="cpu", threads=1, epochs=1, fit=fit)
    card = yaml.safe_load((tmp_path / "model" / "model.yaml").read_text())
    sizes = export["split"]["sizes"]
    # train (the default): the search's protocol; train+val: the validation split as well
    assert card["retrain"]["train_samples"] == sizes["train"] + (sizes["val"] if fit == "train+val" else 0)
    assert card["retrain"]["test_samples"] == sizes["test"] and card["retrain"]["fit"] == fit
    assert 0 <= result.test_accuracy <= 1


def test_final_recipe_trains_on_train_and_val_for_three_times_the_epochs(tmp_path):
    from scalesearch.search.results.final_recipe import FINAL_EPOCHS_FACTOR

    _, _, export = exported(tmp_path)
    result = retrain(export, tmp_path / "model", device="cpu", threads=1, final=True)
    card = yaml.safe_load((tmp_path / "model" / "model.yaml").read_text())
    sizes, searched = export["split"]["sizes"], export["training"]["epochs"]
    assert FINAL_EPOCHS_FACTOR == 3 and card["retrain"]["recipe"] == "final" and card["retrain"]["fit"] == "train+val"
    assert card["retrain"]["train_samples"] == sizes["train"] + sizes["val"]
    assert card["training"]["epochs"] == len(result.curve) == 3 * searched
    assert result.steps[0].startswith(f"trained {3 * searched} epochs on train+val")
    # --epochs still overrides the count; the search's protocol stays the default
    retrain(export, tmp_path / "m2", device="cpu", threads=1, final=True, epochs=2)
    assert yaml.safe_load((tmp_path / "m2" / "model.yaml").read_text())["training"]["epochs"] == 2
    retrain(export, tmp_path / "m3", device="cpu", threads=1)
    plain = yaml.safe_load((tmp_path / "m3" / "model.yaml").read_text())["retrain"]
    assert (plain["recipe"], plain["fit"], len(plain["epoch_curve"])) == ("search", "train", searched)


def test_train_final_from_the_cli_counts_the_epochs_it_trains(tmp_path, capsys):
    from scalesearch.cli import main

    _, _, export = exported(tmp_path)
    best = tmp_path / "best.yaml"
    assert main(["train", str(best), "--final", "--fit", "train+val", "-o", str(tmp_path / "m"), "--device", "cpu",
                 "--threads", "1"]) == 0
    out = capsys.readouterr().out
    searched = export["training"]["epochs"]
    assert f"epoch {3 * searched}/{3 * searched}" in out and f"trained {3 * searched} epochs on train+val" in out


def test_a_final_retrain_says_which_protocol_the_interval_states():
    from scalesearch.search.results.retrain import _interval_verdict, plan

    export = {"training": {"epochs": 20}, "uncertainty": {"test_interval": [0.9, 0.99], "confidence": 0.95,
                                                          "accuracy": 0.97, "seeds": 2}}
    inside, line = _interval_verdict(export, 0.995, 60, "train+val", "cli", final=True)
    assert not inside and line.startswith("test accuracy 0.9950 is above the exported 95 % interval [0.9000, 0.9900]")
    assert line.endswith("; the interval states the search's protocol (the train split, 20 epochs), --final trained "
                         "on train+val for 60, which usually lifts test accuracy by an amount the search did not measure")
    assert "final=True trained" in _interval_verdict(export, 0.95, 60, "train+val", "python", final=True)[1]
    # a space that left epochs out trained the trainer's default; the final recipe triples that
    assert plan({"training": {}}, None, None, True) == ("train+val", 30)


def test_retrain_refuses_data_that_changed_since_the_search(tmp_path):
    root, _, export = exported(tmp_path)
    (root / "digit_0" / "00000.png").unlink()
    clear_memory_cache()
    with pytest.raises(DataError, match="the data changed"):
        retrain(export, tmp_path / "model", device="cpu", threads=1, epochs=1)


def test_retrain_refuses_an_unknown_fit(tmp_path):
    _, _, export = exported(tmp_path)
    with pytest.raises(SpecError, match=r"--fit 'val': choose train"):
        retrain(export, tmp_path / "model", device="cpu", threads=1, epochs=1, fit="val")
