"""Robustness (accuracy under corruptions) and stability (accuracy spread over seeds)."""

from __future__ import annotations

import statistics

import pytest
import torch

from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.config.system_attrs import exact_metrics, trial_config
from scalesearch.search.datasets import Split
from scalesearch.search.training.robustness import (
    CORRUPTIONS,
    NOISE_STD,
    CorruptedSplit,
    blur,
    gaussian_noise,
    robust_accuracy,
    shift,
    stability,
)
from scalesearch.search.training.train import TrainConfig, TrainResult
from tests.datasets_helpers import TINY_SPACE


def test_noise_has_the_stated_strength_in_pixel_units():
    x = torch.zeros(64, 2, 16, 16)
    g = torch.Generator().manual_seed(0)
    out = gaussian_noise(x, (0.5, 0.25), g)
    assert out[:, 0].std().item() == pytest.approx(NOISE_STD / 0.5, rel=0.05)
    assert out[:, 1].std().item() == pytest.approx(NOISE_STD / 0.25, rel=0.05)


def test_blur_keeps_flat_images_and_softens_edges():
    flat = torch.full((2, 3, 16, 16), 0.7)
    assert torch.allclose(blur(flat, (1.0,) * 3, None), flat)
    edge = torch.zeros(1, 1, 16, 16)
    edge[..., 8:] = 1
    out = blur(edge, (1.0,), None)
    assert out.shape == edge.shape and 0 < out[0, 0, 0, 7] < 0.5 < out[0, 0, 0, 8] < 1


def test_shift_moves_each_image_one_step_along_one_axis():
    x = torch.randn(32, 1, 16, 16)
    out = shift(x, (1.0,), torch.Generator().manual_seed(0))
    for a, b in zip(x[:, 0], out[:, 0], strict=True):
        moves = [torch.equal(b[1:-1, 1:-1], a.roll(s, d)[1:-1, 1:-1]) for s in (1, -1) for d in (0, 1)]
        assert sum(moves) == 1


def test_corrupted_split_is_seeded_and_keeps_labels():
    split = Split(torch.randn(10, 1, 8, 8), torch.arange(10))
    a = [x for x, _ in CorruptedSplit(split, gaussian_noise, (1.0,), seed=4).batches(4, device="cpu")]
    b = [x for x, _ in CorruptedSplit(split, gaussian_noise, (1.0,), seed=4).batches(4, device="cpu")]
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    assert [y.tolist() for _, y in CorruptedSplit(split, shift, (1.0,), 0).batches(4, device="cpu")] == \
        [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


class MeanBrightness(torch.nn.Module):
    """Class 1 when the image is brighter than 0 on average: robust to noise, blur and shift."""

    def forward(self, x):
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([-m, m], dim=1)


def test_robust_accuracy_averages_every_corruption():
    y = torch.arange(200) % 2
    x = (y.float() * 2 - 1).view(-1, 1, 1, 1) * 0.5 + 0.05 * torch.randn(200, 1, 8, 8)
    result = robust_accuracy(MeanBrightness(), Split(x, y), "cpu", (0.5,), seed=0)
    assert set(result.per_corruption) == set(CORRUPTIONS)
    assert result.accuracy == pytest.approx(statistics.fmean(result.per_corruption.values()))
    assert result.accuracy > 0.95


def fake_trainer(calls):
    def trainer(model, data, cfg, device, on_epoch=None):
        calls.append(cfg.seed)
        return TrainResult(0.5 + (cfg.seed % 7) / 100, [0.5], 1, 0.01, 1.0)
    return trainer


def test_stability_trains_each_seed_once_and_reuses_known_runs():
    calls = []
    result = stability(lambda seed: None, None, TrainConfig(seed=3), "cpu", fake_trainer(calls), 3, {3: 0.9})
    assert calls == [1003, 2003] and result.seeds == (3, 1003, 2003)
    assert result.accuracies[0] == 0.9
    assert result.std == pytest.approx(statistics.stdev(result.accuracies))


def study_spec(**extra):
    return spec_from_data({"space": TINY_SPACE, "budget": {"n_trials": 2}, "device": "cpu", "threads": 1,
                           "measure": {"latency_repeats": 1, "latency_warmup": 1, **extra.pop("measure", {})},
                           **extra})


def run(tmp_path, spec, calls):
    from scalesearch.search.study.study import open_study, run_study

    study, spec = open_study(spec, f"sqlite:///{tmp_path / 's.db'}")
    run_study(study, spec, trainer=fake_trainer(calls))
    return study


def test_optional_metrics_cost_nothing_unless_asked(tmp_path):
    calls = []
    study = run(tmp_path, study_spec(), calls)
    assert len(calls) == 2
    assert not any(k in t.user_attrs for t in study.trials for k in ("ss.robust_accuracy", "ss.accuracy_std"))


def test_extra_metrics_are_recorded_without_being_objectives(tmp_path):
    calls = []
    study = run(tmp_path, study_spec(measure={"extra_metrics": ["robust_accuracy", "accuracy_std"],
                                              "stability_runs": 3}), calls)
    assert len(calls) == 2 * 3  # each trial: its own training + 2 retrainings
    for t in study.trials:
        a = t.user_attrs
        assert 0 <= a["ss.robust_accuracy"] <= 1 and {"ss.robust_blur", "ss.robust_shift"} <= set(a)
        assert a["ss.accuracy_std"] > 0 and a["ss.stability_runs"] == 3
        assert len(t.values) == 2


def test_robust_accuracy_and_accuracy_std_work_as_objectives(tmp_path):
    calls = []
    study = run(tmp_path, study_spec(objectives=["robust_accuracy", "accuracy_std"]), calls)
    assert study.directions[0].name == "MAXIMIZE" and study.directions[1].name == "MINIMIZE"
    for t in study.trials:
        exact = exact_metrics(t)  # user attrs are rounded for people; objectives are exact
        assert t.values == [exact["robust_accuracy"], exact["accuracy_std"]]
        assert t.user_attrs["ss.robust_accuracy"] == pytest.approx(exact["robust_accuracy"], rel=1e-3)


def test_stability_of_the_pareto_front_is_measured_afterwards(tmp_path):
    from scalesearch.search.results.stability import measure_stability, stored_stability

    calls = []
    spec = study_spec()
    study = run(tmp_path, spec, calls)
    calls.clear()
    measured = measure_stability(study, spec, runs=2, trainer=fake_trainer(calls), device="cpu")
    front = {t.number for t in study.best_trials}
    assert set(measured) == front and len(calls) == len(front)  # each trial's own training is one of the 2
    assert stored_stability(study) == measured
    for number, record in measured.items():
        own = study.trials[number]
        assert record["seeds"][0] == trial_config(own)["seed"]
        assert record["accuracies"][0] == own.user_attrs["ss.accuracy"] and len(record["accuracies"]) == 2
    calls.clear()
    assert measure_stability(study, spec, runs=2, trainer=fake_trainer(calls), device="cpu") == {}
    assert calls == []  # already measured: not trained again


def test_robust_accuracy_works_on_a_hand_built_dataset_without_stats(tiny_data):
    from scalesearch.search.training.robustness import extra_metrics

    spec = study_spec(measure={"extra_metrics": ["robust_accuracy"]})
    metrics = extra_metrics(spec, MeanBrightness(), tiny_data, "cpu", TrainConfig(), 0.5,
                            trainer=fake_trainer([]), rebuild=lambda seed: None)
    assert 0 <= metrics["robust_accuracy"] <= 1
