"""Trial faults never stop a study: each ends one trial with a stored reason, the rest go on.

In-process with real tiny models and a fake trainer that misbehaves on chosen trials.
"""

from __future__ import annotations

import gc
import math
import weakref
from typing import Any

import optuna
import pytest
import torch

from scalesearch.search.config import attrs, system_attrs
from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.runtime.faults import (
    REASON_CHARS,
    error_text,
    fail_reason,
    is_out_of_memory,
    non_finite,
    readable,
)
from scalesearch.search.study.study import load_data, open_study, run_study
from scalesearch.search.training.train import Diverged, TrainResult
from scalesearch.spaces import registry
from tests.workers_helpers import tiny_spec_data

State = optuna.trial.TrialState


@pytest.fixture(scope="module")
def data() -> Any:
    spec = spec_from_data(tiny_spec_data())
    return load_data(spec.dataset, spec.space.input_size, "cpu")


def _run(tmp_path, data, trainer, n_trials=4) -> tuple[Any, Any]:
    spec = spec_from_data(tiny_spec_data("faults", n_trials=n_trials))
    url = f"sqlite:///{tmp_path / 'faults.db'}"
    study, spec = open_study(spec, url)
    summary = run_study(study, spec, data=data, device="cpu", trainer=trainer, storage_url=url)
    return study, summary


def _ok(model, data, cfg, device, on_epoch=None) -> TrainResult:
    return TrainResult(0.9, [0.9], 1, 0.01, 0.1)


def _on_trial(number: int, fault: Any) -> Any:
    """A trainer that calls ``fault`` on the trial whose seed is ``number`` (seed = trial number)."""

    def trainer(model, data, cfg, device, on_epoch=None) -> TrainResult:
        if cfg.seed == number:
            return fault(model)
        return _ok(model, data, cfg, device)

    return trainer


def _reason(study, number: int, key: str = attrs.FAIL_REASON) -> str:
    return study.trials[number].user_attrs[key]


def test_nan_loss_prunes_the_trial_with_its_reason(tmp_path, data):
    def diverge(model):
        raise Diverged(epoch=1, step=3, loss=math.nan)

    study, summary = _run(tmp_path, data, _on_trial(1, diverge))
    assert study.trials[1].state == State.PRUNED
    assert "diverged" in _reason(study, 1, attrs.PRUNE_REASON) and "nan" in _reason(study, 1, attrs.PRUNE_REASON)
    assert summary.finished == 4 and summary.stopped_by == "budget"


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_non_finite_objective_value_prunes_the_trial(tmp_path, data, value):
    study, summary = _run(tmp_path, data, _on_trial(0, lambda m: TrainResult(value, [value], 1, 0.01, 0.1)))
    assert study.trials[0].state == State.PRUNED
    assert _reason(study, 0, attrs.PRUNE_REASON) == f"non-finite objective value (accuracy={value})"
    assert summary.finished == 4


def test_cuda_out_of_memory_fails_the_trial_releases_it_and_the_worker_continues(tmp_path, data):
    held: list[weakref.ref] = []
    alive_at_next_trial: list[bool] = []

    def trainer(model, data_, cfg, device, on_epoch=None) -> TrainResult:
        if cfg.seed == 0:
            held.append(weakref.ref(model))
            buffers = [torch.zeros(1000, 1000) for _ in range(4)]  # what a real OOM leaves behind
            del buffers
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if cfg.seed == 1:
            alive_at_next_trial.append(held[0]() is not None)
        return _ok(model, data_, cfg, device)

    study, summary = _run(tmp_path, data, trainer)
    reason = _reason(study, 0)
    assert study.trials[0].state == State.FAIL
    assert reason.startswith("out of memory on cpu (lower batch_size") and "Tried to allocate 2.00 GiB" in reason
    assert system_attrs.trial_data(study.trials[0], attrs.ERROR) == "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
    assert alive_at_next_trial == [False]  # the failed trial's model was freed before the next one
    assert summary.finished == 4 and summary.stopped_by == "budget"


def test_a_model_that_cannot_be_built_fails_with_family_and_config(tmp_path, data, monkeypatch):
    family = registry.get_family("resnet")
    original = family.builder
    calls = []

    def flaky(io, **params):
        calls.append(params)
        if len(calls) == 2:
            raise RuntimeError("kernel size can't be greater than actual input size")
        return original(io, **params)

    monkeypatch.setitem(registry._FAMILIES, "resnet", registry.Family("resnet", flaky, family.description, family.knobs))
    study, summary = _run(tmp_path, data, _ok)
    reason = _reason(study, 1)
    assert study.trials[1].state == State.FAIL
    assert reason == "resnet could not be built: RuntimeError: kernel size can't be greater than actual input size"
    assert system_attrs.trial_data(study.trials[1], attrs.ERROR).startswith("ModelBuildError: resnet could not build {")
    assert summary.finished == 4


def test_any_other_trainer_error_fails_only_its_trial(tmp_path, data):
    def boom(model):
        raise RuntimeError("cuDNN error: CUDNN_STATUS_EXECUTION_FAILED")

    study, summary = _run(tmp_path, data, _on_trial(2, boom))
    assert study.trials[2].state == State.FAIL
    assert _reason(study, 2) == "RuntimeError: cuDNN error: CUDNN_STATUS_EXECUTION_FAILED"
    assert summary.finished == 4


def test_repeated_failures_stop_the_worker_with_a_clear_outcome(tmp_path, data):
    def always(model, data_, cfg, device, on_epoch=None):
        raise ValueError("bad batch")

    study, summary = _run(tmp_path, data, always, n_trials=4)
    assert summary.stopped_by == "failures" and summary.finished == 0
    assert [t.state for t in study.trials] == [State.FAIL] * 3  # max(3, n_trials // 4)


def test_fault_helpers():
    assert is_out_of_memory(torch.OutOfMemoryError("x"))
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert is_out_of_memory(RuntimeError("CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert non_finite([0.5, 10.0], ["accuracy", "params"]) is None
    assert non_finite([math.nan, math.inf], ["accuracy", "params"]) == "non-finite objective value (accuracy=nan, params=inf)"
    assert fail_reason(RuntimeError("bad lr\nmore"), "cuda:1") == "RuntimeError: bad lr"
    assert error_text(RuntimeError("bad lr\nmore")) == "RuntimeError: bad lr\nmore"
    assert readable("a " + "x" * 700 + " b") == "a " + "x" * 19 + "…" + "x" * 19 + " b"  # every run breakable
    long = fail_reason(RuntimeError(" ".join(["mismatch"] * 100)), "cuda:1")
    assert len(long) == REASON_CHARS and long.endswith("…")  # one short line for the dashboard's attr list
    gc.collect()
