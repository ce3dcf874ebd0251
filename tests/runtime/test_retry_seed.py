"""Issue 15, item 6: a retried trial (crashed or interrupted worker) reruns with its seed."""

from __future__ import annotations

import optuna

from scalesearch.search.config import attrs
from scalesearch.search.config.spec import load_spec
from scalesearch.search.runtime.liveness import Retry
from scalesearch.search.study.objective import Objective
from tests.conftest import TINY_OVERRIDES, FakeTrainer


def config_of(trial):
    """The sampled config, wherever this version stores it (system attrs, else user attrs)."""
    return trial.system_attrs.get(attrs.CONFIG) or trial.user_attrs.get(attrs.CONFIG) or {}


class Crash(Exception):
    pass


def test_a_retry_keeps_the_failed_trials_seed(tiny_data):
    spec = load_spec(None, [*TINY_OVERRIDES, "seed=100"])
    study = optuna.create_study(directions=spec.directions)

    def crash(*args, **kwargs):
        raise Crash("worker died")

    study.optimize(Objective(spec, tiny_data, "cpu", trainer=crash), n_trials=1, catch=(Crash,))
    failed = study.trials[0]
    assert failed.state == optuna.trial.TrialState.FAIL
    Retry(2)(study, failed)
    trainer = FakeTrainer()
    study.optimize(Objective(spec, tiny_data, "cpu", trainer=trainer), n_trials=1)
    rerun = study.trials[-1]
    assert rerun.user_attrs[attrs.RETRY_OF] == failed.number and rerun.params == failed.params
    assert config_of(rerun)["seed"] == config_of(failed)["seed"] == 100
    assert trainer.calls[0].seed == 100  # not 100 + the rerun's own number


def test_a_retry_of_a_retry_still_keeps_it(tiny_data):
    spec = load_spec(None, TINY_OVERRIDES)
    study = optuna.create_study(directions=spec.directions)

    def crash(*args, **kwargs):
        raise Crash("worker died")

    objective = Objective(spec, tiny_data, "cpu", trainer=crash)
    study.optimize(objective, n_trials=1, catch=(Crash,))
    for _ in range(2):
        Retry(3)(study, study.trials[-1])
        study.optimize(objective, n_trials=1, catch=(Crash,))
    assert [config_of(t)["seed"] for t in study.trials] == [spec.seed] * 3
