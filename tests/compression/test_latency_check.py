"""Latency checks itself (issue 28: values 100x off were trusted): a disturbed or outlying value
is measured again, and one that stays doubtful is flagged and kept off the front. The timer is
faked, so the tests hold on a loaded machine."""

from __future__ import annotations

import optuna
import pytest
from torch import nn

from scalesearch.search.compression import deploy, measure
from scalesearch.search.compression.onnx_deploy import onnx_metrics
from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.config.system_attrs import METRICS
from scalesearch.search.results.report import feasible
from tests.workers_helpers import tiny_spec_data

#: Other trials on the same device: latency about 0.002 ms per kFLOP, with some scatter.
REFERENCE = [(1e5, 0.2), (2e5, 0.45), (4e5, 0.8), (8e5, 1.5), (1.6e6, 3.4), (3.2e6, 6.0)]


def test_a_latency_far_above_what_its_flops_predict_is_an_outlier():
    reason = measure.latency_outlier(4e5, 332.0, REFERENCE)
    assert reason is not None and "332 ms is" in reason and "6 other trials" in reason
    assert measure.latency_outlier(4e5, 1.2, REFERENCE) is None  # within the scatter
    assert measure.latency_outlier(4e5, 0.01, REFERENCE) is None  # fast is not doubted
    assert measure.latency_outlier(4e5, 332.0, REFERENCE[:3]) is None  # too few to judge by


def test_a_disturbed_measurement_is_doubted_even_alone():
    assert "median is 10.0x its fastest pass" in measure.latency_doubt(10.0, 10.0, None, ())
    assert measure.latency_doubt(10.0, 1.2, None, ()) is None


class FakeTimer:
    """``measure.wall_times_ms`` replaced: each call returns the next list of pass times."""

    def __init__(self, *calls: list[float]):
        self.calls, self.count = list(calls), 0

    def __call__(self, model, x, warmup, repeats, seconds=None):
        times = self.calls[min(self.count, len(self.calls) - 1)]
        self.count += 1
        return times


def _latency(monkeypatch, timer: FakeTimer) -> dict:
    monkeypatch.setattr(measure, "wall_times_ms", timer)
    spec = spec_from_data(tiny_spec_data("lat", measure={"latency_batch_size": 8}))
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    return deploy.latency_metrics(model, (1, 8, 8), "cpu", spec, flops=4e5, reference=REFERENCE)


def test_an_outlier_is_measured_again_and_the_new_value_kept(monkeypatch):
    # batch 1 then batch 8, per measurement: the first measurement is 100x off, the second is not
    timer = FakeTimer([330.0] * 5, [900.0] * 5, [0.8] * 5, [3.0] * 5)
    metrics = _latency(monkeypatch, timer)
    assert metrics["latency_ms"] == pytest.approx(0.8) and metrics["latency_remeasured"] == 1
    assert "latency_suspect" not in metrics and timer.count == 4


def test_a_value_that_stays_doubtful_is_flagged(monkeypatch):
    metrics = _latency(monkeypatch, FakeTimer([330.0] * 5, [900.0] * 5, [330.0] * 5, [900.0] * 5))
    assert metrics["latency_ms"] == pytest.approx(330.0)
    assert "x what its 4e+05 FLOPs predict" in metrics["latency_suspect"] and metrics["latency_remeasured"] == 1


def test_a_steady_plausible_value_is_measured_once(monkeypatch):
    timer = FakeTimer([0.8] * 5, [3.0] * 5)
    metrics = _latency(monkeypatch, timer)
    assert metrics["latency_ms"] == pytest.approx(0.8) and timer.count == 2 and "latency_remeasured" not in metrics


def test_onnxruntime_latency_is_checked_and_measured_again_too(monkeypatch, tiny_data):
    """deploy.runtime onnxruntime: the same check and re-measurement as torch's."""
    # batch 8 then batch 1, per measurement: the first measurement is 100x off, the second is not
    timer = FakeTimer([900.0] * 5, [330.0] * 5, [3.0] * 5, [0.8] * 5)
    monkeypatch.setattr(measure, "wall_times_ms", timer)
    spec = spec_from_data(tiny_spec_data("lat", measure={"latency_batch_size": 8},
                                         deploy={"runtime": "onnxruntime"}))
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).eval()
    metrics = onnx_metrics(model, "none", tiny_data, spec, "cpu", flops=4e5, reference=REFERENCE)
    assert metrics["deploy_runtime"] == "onnxruntime" and timer.count == 4
    assert metrics["latency_ms"] == pytest.approx(0.8) and metrics["latency_remeasured"] == 1
    assert "spread" not in metrics and "latency_suspect" not in metrics


def _trial(**metrics) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(values=[0.9, 1.0], system_attrs={METRICS: metrics})


def test_a_flagged_latency_keeps_its_trial_off_the_front_only_where_latency_counts():
    with_latency = spec_from_data(tiny_spec_data("f") | {"objectives": ["accuracy", "latency_ms"]})
    without = spec_from_data(tiny_spec_data("f") | {"objectives": ["accuracy", "params"]})
    suspect = _trial(accuracy=0.9, latency_ms=330.0, params=10, latency_suspect="latency 330 ms is 400x ...")
    assert not feasible(suspect, with_latency)
    assert feasible(suspect, without)  # latency plays no part in that study's front
    assert feasible(_trial(accuracy=0.9, latency_ms=0.8, params=10), with_latency)


def test_unsteady_twice_is_remeasured_but_not_flagged(monkeypatch):
    """A busy machine spreads the passes; the value is plausible for its FLOPs, so it is kept."""
    noisy = [0.5, 0.6, 3.0, 3.0, 3.0]  # median 3.0, 6x the fastest
    metrics = _latency(monkeypatch, FakeTimer(noisy, [3.0] * 5, noisy, [3.0] * 5))
    assert metrics["latency_remeasured"] == 1 and "latency_suspect" not in metrics
