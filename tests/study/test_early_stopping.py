"""Early stopping: rung placement, promotion and pruning at a rung, ties, the first trials at a
rung, peers from other workers through the storage, and the rule wired into ``run_study``.

Rule-level tests drive ``ParetoASHA`` with real Optuna trials whose attrs are set by hand; the
study-level tests run ``run_study`` with a fake trainer (made-up curves, milliseconds a trial).
"""

from __future__ import annotations

import math
import re
import threading
import warnings

import optuna
import pytest

from scalesearch.errors import SpecError, UnknownNameError
from scalesearch.search.config import attrs, system_attrs
from scalesearch.search.config.metrics import parse_condition
from scalesearch.search.config.spec import load_spec, spec_from_data
from scalesearch.search.study.early_stopping import (
    EARLY_STOPPED,
    EARLY_STOPPING,
    Hook,
    NoEarlyStopping,
    ParetoASHA,
    make_early_stopping,
    trial_budget,
)
from scalesearch.search.study.early_stopping_spec import RULES, EarlyStoppingSpec
from scalesearch.search.study.objective import constraints_func
from scalesearch.search.study.study import epochs_spent, open_study, run_study
from scalesearch.search.training.train import Diverged, EpochReport, TrainResult

MAX = "maximize"


@pytest.fixture(autouse=True)
def _quiet():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def new_study(storage=None, name="s", n_objectives=2):
    return optuna.create_study(storage=storage, study_name=name, load_if_exists=True,
                               directions=[MAX] + ["minimize"] * (n_objectives - 1))


def ask(study, params=1000, epochs=27):
    """A RUNNING trial as the objective leaves it before training: config and costs stored."""
    trial = study.ask()
    trial.set_user_attr(attrs.CONFIG, {"family": "resnet", "model": {}, "training": {"epochs": epochs}})
    trial.set_user_attr(attrs.metric_key("params"), params)
    return trial


def at_rung(rule, study, values, rung, params=None):
    """Trials that reached ``rung`` with ``values`` (and ``params``), recorded through the rule."""
    params = params or [1000] * len(values)
    decisions = []
    for value, p in zip(values, params, strict=True):
        trial = ask(study, p)
        decisions.append(rule.should_stop(study, trial, rung, value))
    return decisions


# --------------------------------------------------------------------------- rungs


@pytest.mark.parametrize(("min_epochs", "eta", "budget", "rungs"), [
    (1, 3, 27, [1, 3, 9]),
    (3, 3, 12, [3, 9]),
    (3, 3, 27, [3, 9]),
    (1, 2, 10, [1, 2, 4, 8]),
    (2, 2.5, 30, [2, 5, 12]),
    (1, 1.5, 5, [1, 2, 3]),  # rounding may repeat a rung: kept once
    (4, 3, 4, []),  # no rung below the budget: the trial always runs in full
])
def test_rungs_are_geometric_and_below_the_budget(min_epochs, eta, budget, rungs):
    assert ParetoASHA(["accuracy"], min_epochs=min_epochs, eta=eta).rungs(budget) == rungs


@pytest.mark.parametrize(("warmup", "rungs"), [(0.0, [1, 3, 9]), (2.0, [3, 9]), (8.1, [9]), (9.0, [9]), (10, [])])
def test_no_rung_inside_the_learning_rate_warmup(warmup, rungs):
    assert ParetoASHA(["accuracy"], min_epochs=1, eta=3).rungs(27, warmup) == rungs


@pytest.mark.parametrize(("training", "rungs"), [
    ({"epochs": 27, "schedule": "cosine"}, [3, 9]),
    ({"epochs": 27, "schedule": "cosine", "warmup_epochs": 4}, [9]),
    ({"epochs": 27, "schedule": "onecycle"}, [9]),  # one-cycle warms up for 30 %: 8.1 epochs
    ({"epochs": 12, "schedule": "onecycle"}, [9]),
])
def test_a_trial_takes_its_rungs_from_its_schedule(training, rungs):
    trial = new_study().ask()
    trial.set_user_attr(attrs.CONFIG, {"training": training})
    assert ParetoASHA(["accuracy"], min_epochs=3, eta=3).trial_rungs(trial) == rungs


def test_a_trial_is_only_compared_at_its_rungs():
    study = new_study(n_objectives=1)
    rule = ParetoASHA(["accuracy"], min_epochs=3, eta=3, min_trials_per_rung=1)
    at_rung(rule, study, [0.9, 0.9, 0.9], 3)
    trial = ask(study)
    assert rule.should_stop(study, trial, 2, 0.1) is None  # not a rung
    assert attrs.rung_key(2) not in trial.user_attrs
    assert rule.should_stop(study, trial, 3, 0.1) is not None
    assert trial.user_attrs[attrs.rung_key(3)] == 0.1


def test_rung_values_are_shown_rounded_and_ranked_exact():
    study = new_study(n_objectives=1)
    rule = ParetoASHA(["accuracy"], min_epochs=3, eta=2, min_trials_per_rung=1)
    assert at_rung(rule, study, [0.12344], 3) == [None]
    trial = ask(study)
    # 0.12341 and its peer's 0.12344 both show as 0.1234: ranked on the shown values they would
    # tie and both continue; ranked exactly, the peer is better and this trial stops.
    assert rule.should_stop(study, trial, 3, 0.12341) is not None
    assert trial.user_attrs[attrs.rung_key(3)] == 0.1234
    assert system_attrs.trial_data(trial, attrs.rung_key(3)) == 0.12341
    peer = study.trials[0]
    assert peer.user_attrs[attrs.rung_key(3)] == 0.1234 and peer.system_attrs[attrs.rung_key(3)] == 0.12344


def test_the_budget_comes_from_the_sampled_config():
    study = new_study(n_objectives=1)
    assert trial_budget(ask(study, epochs=12)) == 12
    bare = study.ask()
    assert trial_budget(bare) > 0  # the trainer's default


# --------------------------------------------------------------------------- one rung


def test_top_third_by_accuracy_continues_single_objective():
    study = new_study(n_objectives=1)
    rule = ParetoASHA(["accuracy"], min_epochs=1, eta=3, min_trials_per_rung=1)
    at_rung(rule, study, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], 1)
    # Now 9 at the rung with the newcomer: the top 3 continue.
    assert at_rung(rule, study, [0.75], 1) == [None]  # beaten only by 0.8
    study2 = new_study(n_objectives=1, name="s2")
    at_rung(rule, study2, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], 1)
    (decision,) = at_rung(rule, study2, [0.65], 1)  # beaten by 0.7 and 0.8 only: continues
    assert decision is None
    study3 = new_study(n_objectives=1, name="s3")
    at_rung(rule, study3, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], 1)
    (decision,) = at_rung(rule, study3, [0.55], 1)  # beaten by 0.6, 0.7, 0.8: pruned
    assert decision is not None and decision.epoch == 1
    assert "rung 1" in decision.reason and "3 of 8 peers rank higher" in decision.reason
    assert "top 3 of 9" in decision.reason


def test_the_first_trials_at_a_rung_continue_until_enough_peers_exist():
    study = new_study(n_objectives=1)
    rule = ParetoASHA(["accuracy"], min_epochs=1, eta=3, min_trials_per_rung=3)
    # The first three at the rung continue unranked, each worse than the last.
    assert at_rung(rule, study, [0.9, 0.5, 0.1], 1) == [None, None, None]
    # The fourth is ranked: 4 // 3 = 1 may continue, and it is beaten by 0.9.
    (decision,) = at_rung(rule, study, [0.2], 1)
    assert decision is not None and "top 1 of 4" in decision.reason


def test_with_one_trial_per_rung_minimum_only_the_leader_continues_early_on():
    study = new_study(n_objectives=1)
    rule = ParetoASHA(["accuracy"], min_epochs=1, eta=3, min_trials_per_rung=1)
    decisions = at_rung(rule, study, [0.5, 0.4, 0.6, 0.55], 1)
    # 1st: alone. 2nd: beaten by 0.5, keep max(1, 2 // 3) = 1. 3rd: new leader. 4th: beaten by 0.6.
    assert [d is None for d in decisions] == [True, False, True, False]


def test_rungs_are_separate():
    study = new_study(n_objectives=1)
    rule = ParetoASHA(["accuracy"], min_epochs=1, eta=3, min_trials_per_rung=1)
    at_rung(rule, study, [0.9, 0.9, 0.9, 0.9], 3)  # strong trials, but at rung 3 only
    assert at_rung(rule, study, [0.2], 1) == [None]  # alone at rung 1


def test_pareto_ranking_keeps_a_cheap_model_with_lower_accuracy():
    study = new_study()
    rule = ParetoASHA(["accuracy", "params"], min_epochs=1, eta=3, min_trials_per_rung=1)
    at_rung(rule, study, [0.90, 0.91, 0.92, 0.93, 0.94, 0.95], 1, params=[1e6] * 6)
    # Worst accuracy, but 100x fewer params: on the first front, at its boundary -> continues.
    assert at_rung(rule, study, [0.50], 1, params=[1e4]) == [None]
    # Same accuracy as the worst big model, as big as the rest: dominated -> pruned.
    (decision,) = at_rung(rule, study, [0.90], 1, params=[2e6])
    assert decision is not None


def test_crowding_breaks_ties_within_the_first_front():
    study = new_study()
    rule = ParetoASHA(["accuracy", "params"], min_epochs=1, eta=3, min_trials_per_rung=1)
    # A staircase of non-dominated trials (log10 params 3..7, accuracy rising with size).
    at_rung(rule, study, [0.60, 0.70, 0.80, 0.90, 0.95], 1, params=[1e3, 1e4, 1e5, 1e6, 1e7])
    # A newcomer on the front but squeezed right next to a peer has the smallest crowding
    # distance; 6 at the rung keep 2, and both boundary trials rank above it.
    (decision,) = at_rung(rule, study, [0.805], 1, params=[1.1e5])
    assert decision is not None and "top 2 of 6" in decision.reason


def test_exact_ties_at_the_cut_all_continue():
    study = new_study(n_objectives=1)
    rule = ParetoASHA(["accuracy"], min_epochs=1, eta=3, min_trials_per_rung=1)
    at_rung(rule, study, [0.9, 0.8, 0.8, 0.1, 0.1], 1)
    # 6 at the rung keep 2: 0.9, then three trials tied at 0.8. A tie does not rank above.
    assert at_rung(rule, study, [0.8], 1) == [None]
    # Identical points share one crowding distance, so ties hold with costs too.
    study2 = new_study(name="s2")
    rule2 = ParetoASHA(["accuracy", "params"], min_epochs=1, eta=3, min_trials_per_rung=1)
    at_rung(rule2, study2, [0.9, 0.8, 0.8], 1, params=[1e6, 1e3, 1e3])
    assert at_rung(rule2, study2, [0.8], 1, params=[1e3]) == [None]


def test_costs_not_known_before_training_are_not_ranked():
    rule = ParetoASHA(["accuracy", "latency_ms", "params"])
    assert rule.costs == ["params"] and rule.directions == [MAX, "minimize"]


def test_a_constraint_on_a_known_cost_stops_before_training():
    study = new_study()
    conditions = [parse_condition("params <= 5000", "c"), parse_condition("accuracy >= 0.9", "c")]
    rule = ParetoASHA(["accuracy", "params"], conditions)
    assert rule.before_training(study, ask(study, params=4000)) is None
    decision = rule.before_training(study, ask(study, params=6000))
    assert decision.epoch == 0 and "params <= 5000" in decision.reason and "6000" in decision.reason


def test_none_never_stops():
    study = new_study()
    rule = make_early_stopping("none", ["accuracy", "params"], [parse_condition("params <= 1", "c")])
    assert isinstance(rule, NoEarlyStopping)
    trial = ask(study, params=10**9)
    assert rule.before_training(study, trial) is None and rule.should_stop(study, trial, 1, 0.0) is None
    assert set(EARLY_STOPPING) == {"none", "asha"}


# --------------------------------------------------------------------------- workers


def _storage(kind, tmp_path):
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(tmp_path / "shared.log")))


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_running_trials_of_another_worker_are_peers(kind, tmp_path):
    storage = _storage(kind, tmp_path)
    rule = ParetoASHA(["accuracy"], min_epochs=1, eta=3, min_trials_per_rung=3)
    worker_a = new_study(storage, n_objectives=1)
    running = at_rung(rule, worker_a, [0.5, 0.6, 0.7, 0.8, 0.9], 1)  # each leads; still RUNNING
    assert running == [None, None, None, None, None]
    worker_b = optuna.load_study(study_name="s", storage=storage)  # another process's view
    (decision,) = at_rung(rule, worker_b, [0.55], 1)
    assert decision is not None and "4 of 5 peers" in decision.reason


def test_threads_as_workers_share_rungs(tmp_path):
    """Four workers on one SQLite file, trials interleaved; every decision sees the others."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    new_study(url, n_objectives=1)
    rule = ParetoASHA(["accuracy"], min_epochs=1, eta=3, min_trials_per_rung=3)
    barrier = threading.Barrier(4)
    results: dict[int, list] = {}

    def worker(index: int) -> None:
        study = optuna.load_study(study_name="s", storage=url)
        trials = [ask(study) for _ in range(3)]
        barrier.wait()
        results[index] = [rule.should_stop(study, t, 1, 0.1 * (index * 3 + i + 1)) for i, t in enumerate(trials)]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    study = optuna.load_study(study_name="s", storage=url)
    values = sorted(round(t.user_attrs[attrs.rung_key(1)], 6) for t in study.trials)
    assert values == [round(0.1 * k, 6) for k in range(1, 13)]  # no write lost
    decisions = {round(0.1 * (w * 3 + i + 1), 6): d for w, ds in results.items() for i, d in enumerate(ds)}
    assert decisions[1.2] is None  # nothing ranks above the best, whatever the interleaving
    for value, decision in decisions.items():
        if decision is None:
            continue
        better, peers = map(int, re.search(r"(\d+) of (\d+) peers", decision.reason).groups())
        # A stopped trial only counted peers that exist and really are better.
        assert peers <= 11 and better <= sum(v > value for v in values)


def test_workers_running_run_study_share_one_budget_and_rungs(tmp_path, tiny_data):
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    spec = make_spec(n_trials=15)
    open_study(spec, url)
    trainers = [CurveTrainer() for _ in range(3)]

    def worker(trainer: CurveTrainer) -> None:
        study, resolved = open_study(None, url, spec.study_name)
        run_study(study, resolved, data=tiny_data, device="cpu", trainer=trainer)

    threads = [threading.Thread(target=worker, args=(t,)) for t in trainers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    study = optuna.load_study(study_name=spec.study_name, storage=url)
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert 15 <= len(finished) <= 17 and len(finished) == len(study.trials)  # each worker may overshoot by one
    assert any(t.state.name == "PRUNED" for t in finished)
    assert epochs_spent(study) == sum(t.epochs_trained for t in trainers)


# --------------------------------------------------------------------------- run_study


def tiny_space(epochs: int) -> dict:
    return {
        "name": "tiny",
        "input_size": 8,
        "families": {"resnet": {"width_multiplier": {"low": 0.0625, "high": 0.125, "log": True},
                                "depth_multiplier": 0.5}},
        "training": {"lr": {"low": 1.0e-3, "high": 1.0e-1, "log": True}, "epochs": epochs,
                     "batch_size": 32},
    }


def make_spec(epochs=9, n_trials=12, early_stopping=None, **extra):
    return spec_from_data({
        "study_name": "es", "space": tiny_space(epochs), "device": "cpu", "threads": 1,
        "sampler": {"name": "random", "seed": 0},
        "budget": {"n_trials": n_trials},
        "early_stopping": early_stopping or {"name": "asha", "min_epochs": 1, "eta": 3, "min_trials_per_rung": 2},
        "measure": {"latency_warmup": 0, "latency_repeats": 1, "latency_batch_size": 2},
        **extra,
    })


@pytest.fixture(scope="module")
def tiny_data():
    import torch

    from scalesearch.search.datasets import Dataset, Split

    g = torch.Generator().manual_seed(0)
    split = lambda n: Split(torch.randn(n, 1, 8, 8, generator=g), torch.arange(n) % 10)  # noqa: E731
    return Dataset("tiny", split(20), split(10), split(10), 10, 1, 8, tuple(str(i) for i in range(10)))


class CurveTrainer:
    """Made-up learning curves: a trial's ceiling is set by its learning rate (best at 1e-2)."""

    def __init__(self, diverge_at: int | None = None):
        self.epochs_trained = 0
        self.diverge_at = diverge_at

    @staticmethod
    def ceiling(lr: float) -> float:
        return 0.95 - 0.2 * abs(math.log10(lr) + 2)

    def __call__(self, model, data, cfg, device, on_epoch=None):
        curve = []
        for epoch in range(1, cfg.epochs + 1):
            self.epochs_trained += 1
            if epoch == self.diverge_at:
                raise Diverged(epoch, 3, float("nan"))
            curve.append(self.ceiling(cfg.lr) * (1 - 0.5**epoch))
            if on_epoch:
                on_epoch(EpochReport(epoch, 1.0 / epoch, curve[-1], 0.001 * epoch))
        return TrainResult(curve[-1], curve, len(curve), 0.001 * len(curve), 0.1)


def run(tmp_path, spec, trainer, tiny_data, name="db"):
    study, spec = open_study(spec, f"sqlite:///{tmp_path / name}.db")
    summary = run_study(study, spec, data=tiny_data, device="cpu", trainer=trainer)
    return study, summary


def test_run_study_prunes_and_records_rung_values(tmp_path, tiny_data):
    trainer = CurveTrainer()
    study, summary = run(tmp_path, make_spec(), trainer, tiny_data)
    states = [t.state.name for t in study.trials]
    assert summary.finished == 12 and set(states) == {"COMPLETE", "PRUNED"}
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert len(pruned) >= 4
    for t in pruned:
        rung = t.user_attrs[attrs.RUNG_REACHED]
        assert rung in (1, 3)
        assert t.user_attrs["ss.epochs_run"] == rung
        assert system_attrs.trial_data(t, attrs.rung_key(rung)) == pytest.approx(system_attrs.val_curve(t)[-1], abs=1e-5)
        assert len(system_attrs.val_curve(t)) == rung
        assert t.user_attrs[attrs.PRUNE_REASON].startswith(f"asha: at rung {rung} epochs")
        assert "ss.accuracy" not in t.user_attrs
        # Multi-objective TPE cannot use intermediate values; it ranks infeasible trials.
        assert t.constraints[EARLY_STOPPED] == pytest.approx(1 - rung / 9)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert all(t.user_attrs["ss.epochs_run"] == 9 and attrs.rung_key(3) in t.user_attrs for t in complete)
    # Epochs are counted exactly, pruned trials included.
    assert summary.epochs == epochs_spent(study) == trainer.epochs_trained
    # Rung values are not metrics (reports and exports list metrics).
    assert not any(k.startswith("rung") for k in attrs.trial_metrics(complete[0].user_attrs))


def test_none_trains_every_trial_in_full(tmp_path, tiny_data):
    trainer = CurveTrainer()
    study, summary = run(tmp_path, make_spec(n_trials=5, early_stopping={"name": "none"}), trainer, tiny_data)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 5
    assert trainer.epochs_trained == summary.epochs == 45


def test_an_epoch_budget_stops_the_study(tmp_path, tiny_data):
    trainer = CurveTrainer()
    spec = make_spec(n_trials=1000, budget={"n_trials": 1000, "max_epochs": 20}, early_stopping={"name": "none"})
    study, summary = run(tmp_path, spec, trainer, tiny_data)
    # The third trial stops before the epoch that would pass 20 (9 + 9 + 2; it used to run to 27).
    assert summary.stopped_by == "budget" and summary.epochs == 20 and len(study.trials) == 3
    assert study.trials[-1].state.name == "PRUNED" and study.trials[-1].user_attrs["ss.epochs_run"] == 2
    # Resuming with the budget already spent runs nothing.
    study, summary = run(tmp_path, spec, trainer, tiny_data)
    assert len(study.trials) == 3 and trainer.epochs_trained == 20


def test_asha_runs_more_trials_in_the_same_epochs(tmp_path, tiny_data):
    budget = {"n_trials": 1000, "max_epochs": 90}
    with_es, _ = run(tmp_path, make_spec(budget=budget, objectives=["accuracy"]), CurveTrainer(), tiny_data, "a")
    none = {"name": "none"}
    without, _ = run(tmp_path, make_spec(budget=budget, objectives=["accuracy"], early_stopping=none),
                     CurveTrainer(), tiny_data, "b")
    assert len(without.trials) == 10
    assert len(with_es.trials) >= 2 * len(without.trials)


def test_a_constraint_violation_stops_before_training(tmp_path, tiny_data):
    trainer = CurveTrainer()
    spec = make_spec(n_trials=4, constraints=["params <= 1000"])  # every tiny resnet is bigger
    study, _ = run(tmp_path, spec, trainer, tiny_data)
    assert trainer.epochs_trained == 0
    for t in study.trials:
        assert t.state.name == "PRUNED" and t.user_attrs[attrs.RUNG_REACHED] == 0
        assert t.user_attrs["ss.epochs_run"] == 0 and "params <= 1000" in t.user_attrs[attrs.PRUNE_REASON]
        assert constraints_func(spec)(t)[0] > 0  # the sampler sees it as infeasible


def test_single_objective_studies_report_curves_to_optuna(tmp_path, tiny_data):
    study, _ = run(tmp_path, make_spec(objectives=["accuracy"]), CurveTrainer(), tiny_data)
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert pruned and all(max(t.intermediate_values) == t.user_attrs[attrs.RUNG_REACHED] for t in pruned)
    assert not any(t.constraints for t in pruned)  # pruned, not infeasible: TPE ranks them by step


def test_a_diverged_trial_counts_its_epochs(tmp_path, tiny_data):
    trainer = CurveTrainer(diverge_at=2)
    study, summary = run(tmp_path, make_spec(n_trials=2), trainer, tiny_data)
    assert all(t.user_attrs["ss.epochs_run"] == 2 for t in study.trials)
    assert summary.epochs == 4


def test_tpe_keeps_sampling_after_many_pruned_multi_objective_trials(tmp_path, tiny_data):
    spec = make_spec(n_trials=16, sampler={"name": "tpe", "seed": 0})
    study, summary = run(tmp_path, spec, CurveTrainer(), tiny_data)
    assert summary.finished == 16 and sum(t.state.name == "PRUNED" for t in study.trials) >= 4


def test_hook_pops_curves_of_finished_trials():
    study = new_study(n_objectives=1)
    hook = Hook(NoEarlyStopping(), 1)
    trial = ask(study, epochs=2)
    hook.on_epoch(trial, EpochReport(1, 1.0, 0.5, 0.0))
    hook.on_epoch(trial, EpochReport(2, 1.0, 0.6, 0.0))
    assert hook._curves == {} and trial.study.trials[0].intermediate_values == {1: 0.5, 2: 0.6}


# --------------------------------------------------------------------------- spec


def test_specs_stop_early_with_asha_unless_they_say_otherwise():
    es = EarlyStoppingSpec()
    assert es.name == "asha" and es.eta > 1 and es.min_epochs >= 1
    # The default study says otherwise: short trials and a trial budget (docs/benchmarks.md).
    assert load_spec().early_stopping == EarlyStoppingSpec(name="none")


def test_by_default_only_the_first_trial_at_a_rung_goes_unranked():
    es = EarlyStoppingSpec()
    rule = make_early_stopping(es.name, ["accuracy", "params"], min_epochs=es.min_epochs, eta=es.eta,
                               min_trials_per_rung=es.min_trials_per_rung)
    study = new_study()
    # The second is dominated by the first (less accurate, bigger); the third is not.
    decisions = at_rung(rule, study, [0.5, 0.4, 0.45], es.min_epochs, params=[1e4, 2e4, 5e3])
    assert [d is None for d in decisions] == [True, False, True]


@pytest.mark.parametrize(("override", "error", "match"), [
    ("early_stopping.name=hyperband", UnknownNameError, "early_stopping.name: unknown rule 'hyperband'"),
    ("early_stopping.eta=1", SpecError, "early_stopping.eta: must be greater than 1"),
    ("early_stopping.min_epochs=0", SpecError, "early_stopping.min_epochs"),
    ("early_stopping.min_trials_per_rung=0", SpecError, "early_stopping.min_trials_per_rung"),
    ("early_stopping.rungs=3", SpecError, "early_stopping.rungs: unknown key"),
    ("budget.max_epochs=0", SpecError, "budget.max_epochs: must be positive"),
])
def test_bad_early_stopping_settings_are_refused(override, error, match):
    with pytest.raises(error, match=match):
        load_spec(None, [override])


def test_overrides_reach_the_rule():
    spec = load_spec(None, ["early_stopping.name=none", "budget.max_epochs=100"])
    assert spec.early_stopping.name == "none" and spec.budget.max_epochs == 100


def test_the_rules_registry_has_exactly_the_names_the_spec_checks():
    assert list(EARLY_STOPPING) == list(RULES)
