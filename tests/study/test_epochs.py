"""Issue 15, items 4 and 5: ``budget.max_epochs`` counts every epoch trained, exactly, across
workers: failed trials, fine-tuning, ``accuracy_std`` retrainings and running trials included;
and a run stopped by it says so."""

from __future__ import annotations

import threading

import optuna

from scalesearch.search.config import attrs
from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.runtime.budget import epochs_spent, stop_reason
from scalesearch.search.study.study import open_study, run_study
from scalesearch.search.training.train import EpochReport, TrainResult
from tests.study.test_early_stopping import tiny_data, tiny_space  # noqa: F401  (fixture)


def config_of(trial):
    """The sampled config, wherever this version stores it (system attrs, else user attrs)."""
    return trial.system_attrs.get(attrs.CONFIG) or trial.user_attrs.get(attrs.CONFIG) or {}


class CountingFake:
    """Made-up curves; counts every epoch it trains (own training, fine-tuning, retrainings);
    a trial whose learning rate is above ``fail_above`` raises after its second epoch."""

    def __init__(self, fail_above: float = 1.0, during=None):
        self.epochs = 0
        self.fail_above, self.during = fail_above, during
        self.lock = threading.Lock()

    def __call__(self, model, data, cfg, device, on_epoch=None):
        curve = []
        for epoch in range(1, cfg.epochs + 1):
            with self.lock:
                self.epochs += 1
            curve.append(0.5 + 0.04 * epoch)
            if on_epoch:
                on_epoch(EpochReport(epoch, 1.0, curve[-1], 0.001))
            if self.during:
                self.during()
            if epoch == 2 and cfg.lr > self.fail_above and cfg.epochs > 2:
                raise RuntimeError("made-up failure")
        return TrainResult(curve[-1], curve, len(curve), 0.001, 0.1)


def _spec(**extra):
    space = tiny_space(4) | {"compression": {"pruning_ratio": {"choices": [0.0, 0.5]},
                                             "pruning_allocation": "uniform", "finetune_epochs": 2}}
    return spec_from_data({
        "study_name": "epochs", "space": space, "device": "cpu", "threads": 1,
        "sampler": {"name": "random", "seed": 0}, "early_stopping": {"name": "none"},
        "measure": {"latency_warmup": 0, "latency_repeats": 1, "latency_batch_size": 2,
                    "extra_metrics": ["accuracy_std"], "stability_runs": 2},
        **extra,
    })


def test_every_epoch_counts_across_workers(tmp_path, tiny_data, monkeypatch):  # noqa: F811
    from scalesearch.search.runtime import device_share

    # The workers here are threads of one process, and DeviceShare keeps one lock per process:
    # a thread's trainer would hold it against the others' latency measurements (each then
    # waits its 30 s). Processes on a host do not share it; this test is about counting.
    monkeypatch.setattr(device_share, "shared_trainer", lambda trainer: trainer)
    url = f"sqlite:///{tmp_path / 'e.db'}"
    spec = _spec(budget={"n_trials": 8})
    open_study(spec, url)
    trainer = CountingFake(fail_above=0.02)  # about half the lr range fails after 2 epochs

    def worker() -> None:
        study, resolved = open_study(None, url, spec.study_name)
        run_study(study, resolved, data=tiny_data, device="cpu", trainer=trainer)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    study = optuna.load_study(study_name=spec.study_name, storage=url)
    states = {t.state.name for t in study.trials}
    assert "FAIL" in states and "COMPLETE" in states, states
    pruned = [t for t in study.trials if config_of(t).get("compression", {}).get("pruning_ratio")]
    assert pruned  # fine-tuning happened
    assert epochs_spent(study) == trainer.epochs  # FAIL, fine-tuning and retrainings included, exactly


def test_a_running_trial_counts_what_it_has_spent(tmp_path, tiny_data):  # noqa: F811
    # Live counts are stored where an epoch budget reads them (issue 17: without one, once per
    # training call; tests/study/test_transactions.py).
    url = f"sqlite:///{tmp_path / 'r.db'}"
    seen: list[tuple[int, int]] = []
    study, spec = open_study(_spec(budget={"n_trials": 2, "max_epochs": 10_000}), url)
    trainer = CountingFake(during=lambda: seen.append((epochs_spent(study), trainer.epochs)))
    run_study(study, spec, data=tiny_data, device="cpu", trainer=trainer)
    assert seen and all(spent == trained for spent, trained in seen)


def test_an_epoch_budget_counts_everything_and_is_reported_as_the_budget(tmp_path, tiny_data):  # noqa: F811
    url = f"sqlite:///{tmp_path / 'b.db'}"
    study, spec = open_study(_spec(budget={"n_trials": 1000, "max_epochs": 20}), url)
    trainer = CountingFake()
    summary = run_study(study, spec, data=tiny_data, device="cpu", trainer=trainer)
    # Each trial trains 4 + 1 retraining of 4 (+ 2 fine-tuning when pruned): 8 or 10 epochs, so
    # the third trial is stopped before the epoch that would pass the budget: one worker spends
    # exactly max_epochs (the check before each epoch; it used to finish the trial, 24 to 30).
    assert summary.stopped_by == "budget" and len(study.trials) == 3
    assert epochs_spent(study) == trainer.epochs == 20
    last = study.trials[-1]
    assert last.state.name == "PRUNED" and last.user_attrs[attrs.PRUNE_REASON].startswith("budget: ")
    assert [t.state.name for t in study.trials[:2]] == ["COMPLETE", "COMPLETE"]
    # Several workers: the run's summary reads the study, and says "budget", not "timeout".
    assert stop_reason(study, 1000, 20, failed=False) == "budget"
    assert stop_reason(study, 1000, None, failed=False) == "timeout"
    assert stop_reason(study, 3, None, failed=True) == "budget"


def _budget_worker(url: str, name: str, epoch_seconds: float) -> None:
    """One worker process on the study: made-up 4-epoch trials, each epoch ``epoch_seconds``."""
    import time

    import torch

    from scalesearch.search.datasets import Dataset, Split

    g = torch.Generator().manual_seed(0)
    split = lambda n: Split(torch.randn(n, 1, 8, 8, generator=g), torch.arange(n) % 10)  # noqa: E731
    data = Dataset("tiny", split(20), split(10), split(10), 10, 1, 8, tuple(str(i) for i in range(10)))
    study, spec = open_study(None, url, name)
    run_study(study, spec, data=data, device="cpu",
              trainer=CountingFake(during=lambda: time.sleep(epoch_seconds)))


def test_an_epoch_budget_stops_running_trials_across_processes(tmp_path):
    """Three worker processes share max_epochs through the storage: each trial checks it before
    every epoch, so the study overshoots by at most the epochs other workers had already begun
    when it ran out (one each: 2 here), never by whole trials (4 to 10 epochs each)."""
    import multiprocessing

    url, workers, max_epochs = f"sqlite:///{tmp_path / 'p.db'}", 3, 30
    spec = _spec(budget={"n_trials": 1000, "max_epochs": max_epochs})
    open_study(spec, url)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_budget_worker, args=(url, spec.study_name, 0.05)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(600)
    assert [proc.exitcode for proc in procs] == [0] * workers
    study = optuna.load_study(study_name=spec.study_name, storage=url)
    assert max_epochs <= epochs_spent(study) <= max_epochs + workers - 1
    states = [t.state.name for t in study.trials]
    assert "FAIL" not in states and "RUNNING" not in states, states
    stopped = [t for t in study.trials if t.user_attrs.get(attrs.PRUNE_REASON, "").startswith("budget: ")]
    assert stopped and all(t.state.name == "PRUNED" for t in stopped)  # stopped for budget, not failed
