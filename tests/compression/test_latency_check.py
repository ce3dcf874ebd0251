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


# ------------------------------------------------------------ checked again where the front is decided

#: A study's trials in order: (flops, what the faked timer returns at batch 1, accuracy). Trial 1
#: is 100x off but measured when the study had one other trial, so nothing could doubt it then.
STUDY = [(1e5, 0.2, 0.80), (4e5, 332.0, 0.99), (2e5, 0.45, 0.85), (8e5, 1.5, 0.90),
         (1.6e6, 3.4, 0.93), (3.2e6, 6.0, 0.95), (4e5, 0.8, 0.88)]


def _measured_study(monkeypatch, objectives=("accuracy", "latency_ms")) -> tuple[optuna.Study, object]:
    """The trials measured in order with the faked timer, each checked against the ones before
    it as the objective does (``measure.latency_reference``), stored in an in-memory study."""
    spec = spec_from_data(tiny_spec_data("lat", measure={"latency_batch_size": 8}) | {"objectives": list(objectives)})
    study = optuna.create_study(directions=["maximize", "minimize"])
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    done: list[dict] = []
    for flops, ms, accuracy in STUDY:
        monkeypatch.setattr(measure, "wall_times_ms", FakeTimer([ms] * 5, [ms * 4] * 5))
        reference = measure.latency_reference(done, "cpu")
        metrics = deploy.latency_metrics(model, (1, 8, 8), "cpu", spec, flops=flops, reference=reference)
        metrics |= {"flops": flops, "accuracy": accuracy, "params": int(flops / 100), "deploy_device": "cpu"}
        done.append(metrics)
        values = [float(metrics[o]) for o in spec.objectives]
        study.add_trial(optuna.trial.create_trial(values=values, system_attrs={METRICS: metrics}))
    return study, spec


def test_an_early_outlier_passes_when_measured_and_is_doubted_once_the_study_can_judge(monkeypatch):
    from scalesearch.search.results.report import complete_trials, doubted, pareto_trials

    study, spec = _measured_study(monkeypatch)
    trials = complete_trials(study)
    assert "latency_suspect" not in trials[1].system_attrs[METRICS]  # no reference when it was measured
    doubts = doubted(trials, spec)
    assert list(doubts) == [1] and "332 ms is" in doubts[1] and "found against the later trials" in doubts[1]
    assert 1 not in {t.number for t in pareto_trials(trials, spec)}  # the most accurate, but its latency is off
    assert doubted(trials, spec) == doubts  # deterministic
    assert trials[1].system_attrs[METRICS]["latency_ms"] == pytest.approx(332.0)  # nothing rewritten


def test_a_study_without_latency_in_its_front_is_unchanged(monkeypatch):
    from scalesearch.search.results.report import complete_trials, doubted, pareto_trials

    study, spec = _measured_study(monkeypatch, objectives=("accuracy", "params"))
    assert doubted(complete_trials(study), spec) == {}
    assert 1 in {t.number for t in pareto_trials(complete_trials(study), spec)}


def test_the_table_the_note_export_and_the_run_name_the_trial_left_off(monkeypatch):
    import io

    from rich.console import Console

    from scalesearch.search.results.export import candidate_front
    from scalesearch.search.results.notes import front_section
    from scalesearch.search.results.report import study_left_off
    from scalesearch.search.results.study_view import read_study
    from scalesearch.search.results.tables import front_table
    from scalesearch.search.study.progress import Progress

    study, spec = _measured_study(monkeypatch)
    (line,) = study_left_off(study, spec)
    assert line.startswith("trial 1 left off the front: latency 332 ms is ") and "FLOPs predict" in line
    out = io.StringIO()
    Console(file=out, width=400).print(front_table(study, spec))
    assert line in " ".join(out.getvalue().split())  # the caption wraps at the table's width
    assert line in " ".join(front_section(study, spec, "sqlite:///runs.db"))
    assert 1 not in {t.number for t in candidate_front(study, spec)}
    assert 1 not in {p.number for p in read_study(study, spec).front()}  # figures and the report
    printed = io.StringIO()
    progress = Progress(spec, Console(file=printed, width=400))
    trials = study.get_trials(deepcopy=False)
    progress(study, trials[-1])
    progress(study, trials[-1])  # said once
    assert printed.getvalue().count("trial 1 left off the front: latency 332 ms") == 1


def test_a_flagged_trial_is_named_with_its_re_measurement(monkeypatch):
    from scalesearch.search.results.report import left_off_lines

    with_latency = spec_from_data(tiny_spec_data("f") | {"objectives": ["accuracy", "latency_ms"]})
    suspect = _trial(accuracy=0.99, latency_ms=330.0, params=10, latency_suspect="latency 330 ms is 400x ...")
    suspect.number = 3
    plain = _trial(accuracy=0.9, latency_ms=0.8, params=10)
    assert left_off_lines([plain, suspect], with_latency) == [
        "trial 3 left off the front: latency 330 ms is 400x ...; re-measured, still off"]
