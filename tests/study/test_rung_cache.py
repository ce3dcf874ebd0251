"""Issue 17, item 6: rung decisions and the epoch budget do not recompute every trial of a
growing study: a finished trial's rung point and epoch count are taken once, running trials are
read afresh, and the answers equal a from-scratch reading."""

from __future__ import annotations

import optuna

from scalesearch.search.config import attrs
from scalesearch.search.runtime.budget import EpochTally, trial_epochs
from scalesearch.search.study.early_stopping import ParetoASHA, rung_points
from tests.study.test_early_stopping import _quiet, ask, new_study  # noqa: F401  (fixture)


def finish(study, trial, value=0.5):
    study.tell(trial, [value, 1000.0])


def test_finished_points_are_computed_once_and_running_ones_afresh():
    study, rule = new_study(), ParetoASHA(["accuracy", "params"], min_epochs=1, eta=3)
    calls = []
    real_point = rule.point
    rule.point = lambda accuracy, user_attrs: calls.append(accuracy) or real_point(accuracy, user_attrs)
    for i in range(6):  # six trials reach rung 1 and finish
        trial = ask(study, params=1000 + i)
        rule.should_stop(study, trial, 1, 0.5 + i / 100)
        finish(study, trial)
    running = ask(study, params=2000)
    running.set_user_attr(attrs.rung_key(1), 0.9)
    calls.clear()
    first = sorted(rung_points(study, 1, rule))
    # Trials 0-4 were cached by the decisions that followed them: only the last finished trial
    # and the running one are new.
    assert len(first) == 7 and calls == [0.55, 0.9]
    calls.clear()
    again = sorted(rung_points(study, 1, rule))
    assert again == first and calls == [0.9]  # only the running trial is read again
    fresh = ParetoASHA(["accuracy", "params"], min_epochs=1, eta=3)
    assert sorted(rung_points(study, 1, fresh)) == first  # same answer as without a cache
    assert len(list(rung_points(study, 1, rule, exclude=running.number))) == 6
    assert len(list(rung_points(study, 1, rule, exclude=0))) == 6


def test_a_trial_that_finishes_later_joins_the_cached_rung():
    study, rule = new_study(), ParetoASHA(["accuracy", "params"], min_epochs=1, eta=3)
    a = ask(study)
    rule.should_stop(study, a, 1, 0.6)
    finish(study, a)
    b = ask(study)
    rule.should_stop(study, b, 1, 0.7)
    assert len(list(rung_points(study, 1, rule))) == 2  # a cached, b running
    finish(study, b)
    assert sorted(p[0] for p in rung_points(study, 1, rule)) == [0.6, 0.7]  # b now cached, once


def test_epoch_tally_equals_a_full_reading_as_the_study_grows():
    study = optuna.create_study(directions=["maximize", "minimize"])
    tally = EpochTally()
    full = lambda: sum(trial_epochs(t.user_attrs) for t in study.get_trials())  # noqa: E731
    running = study.ask()
    running.set_user_attr(attrs.EPOCHS_TRAINED, 2)
    assert tally(study) == full() == 2
    for n in (3, 5):
        trial = study.ask()
        trial.set_user_attr(attrs.EPOCHS_TRAINED, n)
        study.tell(trial, [0.5, 1.0])
    failed = study.ask()
    failed.set_user_attr(attrs.EPOCHS_TRAINED, 1)
    study.tell(failed, state=optuna.trial.TrialState.FAIL)
    running.set_user_attr(attrs.EPOCHS_TRAINED, 4)  # a running trial is read live
    assert tally(study) == full() == 13
    study.tell(running, [0.5, 1.0])
    assert tally(study) == full() == 13 and tally(study) == 13  # counted once when it finished
