"""The small-models benchmark's report: retrained test accuracies, hypervolume, wall, paired."""

from __future__ import annotations

import math

import optuna
import pytest

from tests.benchmark_helpers import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("small_models")


def _seed(folder, seed, points, small, best, wall, final=None):
    d = folder / f"seed{seed}"
    d.mkdir(parents=True)
    study = optuna.create_study(study_name=f"d{seed}", storage=f"sqlite:///{d / 'study.db'}",
                                directions=["maximize", "minimize"])
    for accuracy, params in points:
        study.add_trial(optuna.trial.create_trial(values=[accuracy, params]))
    logs = {"small": small, "best": best} | ({"small_final": final[0], "best_final": final[1]} if final else {})
    for pick, accuracy in logs.items():
        (d / f"train_{pick}.log").write_text(
            f"epoch 20/20  loss 0.5  test acc {accuracy}\n"
            f"trained on train; test accuracy {accuracy} after 3.1s of training; saved ...\n")
    (d / "time.txt").write_text(f"{wall} s wall\n" + (f"{2 * wall} s cpu\n" if seed else ""))
    (d / "study.done").touch()


def test_report_reads_each_arm_and_pairs_the_seeds(bench, tmp_path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _seed(tmp_path / "a", 0, [(0.95, 1e4), (0.99, 1e5)], 0.9667, 0.99, 120.0)
    _seed(tmp_path / "a", 1, [(0.95, 1e4)], 0.9611, 0.98, 130.0, final=(0.9861, 0.9944))
    _seed(tmp_path / "b", 0, [(0.98, 1e4)], 0.9833, 0.9917, 180.0)
    _seed(tmp_path / "b", 1, [(0.97, 1e4), (0.80, 1e3)], 0.9806, 0.9889, 190.0)
    rows = bench.arm_rows(tmp_path / "a", "d{seed}")
    # (0.05 x 3) + (0.04 x 2): accuracy over 0.90 times decades under 10^7 params
    assert rows[0]["hv"] == pytest.approx(0.05 * 3 + 0.04 * 2) and rows[0]["trials"] == 2
    assert rows[1] == {"small": 0.9611, "best": 0.98, "small_final": 0.9861, "best_final": 0.9944,
                       "lcb": None, "lcb_final": None,  # a seed without the lcb pick's retrains
                       "hv": pytest.approx(0.15), "trials": 1, "wall": 130.0, "cpu": 260.0}
    assert rows[0]["small_final"] is None  # a seed retrained without --final
    assert math.isnan(rows[0]["cpu"])  # an arm timed without CPU seconds
    table = bench.report({"before": tmp_path / "a", "after": tmp_path / "b"}, "d{seed}")
    assert "| before | 0,1 | 0.9639 ± 0.0028 | 0.9850 ± 0.0050 | 0.9861 (1 seed) | 0.9944 (1 seed) |" in table
    assert "| before | 1 | 0.9611 | 0.98 | 0.9861 | 0.9944 | None | None | 0.1500 | 1 | 130 |" in table
    assert "| after − before (paired) | 0,1 | 0.0181 ± 0.0015 |" in table


def test_mean_se_says_when_there_is_one_seed(bench):
    assert bench.mean_se([0.5]) == "0.5000 (1 seed)" and bench.mean_se([None]) == "-"
    assert bench.mean_se([120.0, 130.0], 0) == "125 ± 5"


@pytest.mark.parametrize("line", ["trained on train; test accuracy 0.9583 after 8.5s of training; saved m",
                                  "test accuracy 0.9583 (the model as saved) after 6.5s of training; saved m"])
def test_the_test_accuracy_is_read_from_either_train_output(bench, tmp_path, line):
    log = tmp_path / "train.log"
    log.write_text("epoch 1/2  loss 0.5  val acc 0.9\n" + line + "\ntest accuracy 0.9583 is inside ...\n")
    assert bench._test_accuracy(log) == 0.9583
