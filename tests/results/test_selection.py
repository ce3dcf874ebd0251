"""Noise-aware export selection on a hand-made study, with a fake trainer that returns set accuracies.

Trial 1 is the lucky one: a small model whose one stored score (0.972) is a good seed; its other
seeds give 0.945 and 0.940. The knee on single scores picks it; after re-evaluation the lower
confidence bound prefers trial 2, which is steady at 0.965.
"""

from __future__ import annotations

import statistics

import optuna
import pytest

from scalesearch.errors import SpecError
from scalesearch.search.config import attrs
from scalesearch.search.config.spec import load_spec
from scalesearch.search.results.export import export_data
from scalesearch.search.results.reeval import PREFIX, stored_stability
from scalesearch.search.results.selection import (
    BUDGET_SHARE,
    check_rule,
    estimates,
    final_reeval,
    plan,
    select,
)
from scalesearch.search.storage.storage import stored_study
from scalesearch.search.training.train import TrainResult

# trial -> (params, {seed index: validation accuracy}); index 0 is the trial's own (stored) training.
TRIALS = {
    0: (10_000, {0: 0.900, 1: 0.900, 2: 0.900}),
    1: (12_000, {0: 0.972, 1: 0.945, 2: 0.940}),
    2: (21_000, {0: 0.965, 1: 0.966, 2: 0.964}),
    3: (100_000, {0: 0.980, 1: 0.981, 2: 0.979}),
    4: (1_000_000, {0: 0.985, 1: 0.985, 2: 0.985}),
}


class SeedTable:
    """A trainer returning ``TRIALS``' accuracy for (trial, seed); the trial is told by its lr."""

    def __init__(self):
        self.calls: list[tuple[int, int]] = []

    def __call__(self, model, data, cfg, device, on_epoch=None):
        trial = round(cfg.lr * 1000) - 1
        index = (cfg.seed - trial) // 1000
        self.calls.append((trial, index))
        acc = TRIALS[trial][1][index]
        return TrainResult(acc, [acc], 1, 0.01, 0.1)


def _study(spec, compressed: dict[int, float] | None = None, real_split: bool = False, seconds: float | None = None):
    """The hand-made study; ``real_split`` records the digits split (re-splitting redraws it),
    else only its sizes (enough for re-evaluation on the study's split with ``data`` given)."""
    study = stored_study(optuna.create_study(storage=(memory := optuna.storages.InMemoryStorage()), directions=spec.directions).study_name, memory)
    if real_split:
        from scalesearch.search.datasets.recorded import load_for_study

        load_for_study(study, spec.dataset)
    else:
        study.set_user_attr(attrs.SPLIT, {"sizes": {"train": 1077, "val": 360, "test": 360}, "assignment": "-"})
    for i, (params, accs) in TRIALS.items():
        config = {"family": "resnet", "model": {"width_multiplier": 0.0625, "depth_multiplier": 0.5},
                  "training": {"lr": 0.001 * (i + 1), "epochs": 1, "batch_size": 32}, "seed": i}
        metrics = {"ss.accuracy": accs[0], "ss.params": params}
        if compressed and i in compressed:  # the deployed model lost accuracy to compression
            config["compression"] = {"pruning_ratio": 0.5, "finetune_epochs": 1}
            metrics = {"ss.accuracy": accs[0] - compressed[i], "ss.accuracy_uncompressed": accs[0], "ss.params": params}
        timed = {} if seconds is None else {"ss.trial_seconds": seconds}
        study.add_trial(optuna.trial.create_trial(
            values=[metrics["ss.accuracy"], params], user_attrs={attrs.CONFIG: config, **metrics, **timed}))
    return study


@pytest.fixture
def spec():
    return load_spec()


def test_single_rule_reads_the_one_stored_score_and_trains_nothing(spec, tiny_data):
    study, trainer = _study(spec), SeedTable()
    chosen = select(study, spec, "knee", rule="single", data=tiny_data, trainer=trainer)
    assert chosen.trial.number == 1 and trainer.calls == [] and chosen.trainings == 0
    assert chosen.estimate.accuracy == pytest.approx(0.972) and len(chosen.estimate.accuracies) == 1
    assert not stored_stability(study)


def test_lcb_reevaluates_the_top_candidates_and_avoids_the_lucky_seed(spec, tiny_data):
    study, trainer = _study(spec), SeedTable()
    chosen = select(study, spec, "knee", rule="lcb", seeds=2, top=3, data=tiny_data, trainer=trainer, resplit=False)
    assert chosen.trial.number == 2
    assert chosen.reevaluated == (1, 2, 3) and chosen.trainings == 6
    assert sorted(trainer.calls) == [(t, i) for t in (1, 2, 3) for i in (1, 2)]  # own training reused
    stored = stored_stability(study)
    assert set(stored) == {1, 2, 3} and stored[1]["seeds"] == [1, 1001, 2001]
    assert stored[1]["accuracy_mean"] == pytest.approx((0.972 + 0.945 + 0.940) / 3)
    # Read with the seed std pooled over the three re-evaluated trials (6 degrees of freedom), not its own.
    assert chosen.estimate.accuracy == pytest.approx(0.965) and chosen.estimate.seed_std_source == "pooled"
    assert chosen.estimate.seed_dof == 6
    # A second export reuses the stored trainings.
    again = select(study, spec, "knee", rule="lcb", seeds=2, top=3, data=tiny_data, trainer=trainer, resplit=False)
    assert again.trial.number == 2 and again.trainings == 0 and len(trainer.calls) == 6
    # A larger budget later trains only the missing seeds.
    TRIALS[1][1][3] = 0.950
    try:
        select(study, spec, "knee", rule="lcb", seeds=3, top=1, data=tiny_data, trainer=trainer, resplit=False)
    finally:
        del TRIALS[1][1][3]
    assert trainer.calls[6:] == [(1, 3)] and stored_stability(study)[1]["seeds"] == [1, 1001, 2001, 3001]


def test_trials_not_reevaluated_borrow_the_pooled_seed_spread(spec, tiny_data):
    study = _study(spec)
    select(study, spec, "knee", rule="lcb", seeds=2, top=3, data=tiny_data, trainer=SeedTable(), resplit=False)
    est = estimates(study, spec, study.get_trials(), tiny_data)
    assert est[4].seed_std_source == "pooled" and est[4].seed_std == pytest.approx(
        ((0.0175**2 + 0.001**2 + 0.001**2) / 3) ** 0.5, rel=0.05)
    assert est[4].lower < est[3].lower  # one seed of 0.985 is less sure than three around 0.980


def test_max_accuracy_on_the_mean_and_the_re_evaluation_budget(spec, tiny_data):
    study, trainer = _study(spec, real_split=True), SeedTable()  # re-split, the default
    chosen = select(study, spec, "max:accuracy", rule="mean", seeds=1, top=2, data=tiny_data, trainer=trainer)
    assert chosen.reevaluated == (4, 3) and chosen.trainings == 2 and chosen.trial.number == 4


class FakeCompression:
    """``compress`` and the deployed model's ``accuracy`` as the re-evaluation calls them: each
    extra seed of a compressed trial loses ``LOSS[seed]`` of its trained accuracy."""

    LOSS = {1002: 0.030, 2002: 0.0}

    def __init__(self, monkeypatch, trainer):
        from scalesearch.search.compression import compress

        self.calls, self.trainer = [], trainer
        monkeypatch.setattr(compress, "compress", self.compress)
        monkeypatch.setattr(compress, "accuracy", lambda model, split, device: model.deployed)

    def compress(self, model, data, cc, *, train_cfg, **kw):
        from types import SimpleNamespace

        self.calls.append((train_cfg.seed, cc.pruning_ratio, cc.finetune_epochs))
        trained = TRIALS[round(train_cfg.lr * 1000) - 1][1][(train_cfg.seed - train_cfg.seed % 1000) // 1000]
        return SimpleNamespace(model=SimpleNamespace(deployed=trained - self.LOSS[train_cfg.seed]), float_model=model)


def test_compressed_trials_are_re_evaluated_through_their_compression(spec, tiny_data, monkeypatch):
    study, trainer = _study(spec, compressed={2: 0.01}), SeedTable()
    fake = FakeCompression(monkeypatch, trainer)
    select(study, spec, "knee", rule="mean", seeds=2, top=3, data=tiny_data, trainer=trainer, resplit=False)
    assert fake.calls == [(1002, 0.5, 1), (2002, 0.5, 1)]  # only trial 2 compresses, as its config says
    record = stored_stability(study)[2]
    assert record["deployed"] and record["float_accuracies"] == pytest.approx([0.965, 0.966, 0.964])
    assert record["accuracies"] == pytest.approx([0.955, 0.936, 0.964])  # the trial's own is its deployed score
    est = estimates(study, spec, [study.trials[2]], tiny_data)[2]
    assert est.accuracies == pytest.approx((0.955, 0.936, 0.964)) and est.accuracy == pytest.approx((0.955 + 0.936 + 0.964) / 3)
    own = statistics.stdev(est.accuracies)
    assert own == pytest.approx(0.0142, abs=1e-4)  # the compression loss's own noise is in the spread
    others = [statistics.stdev(TRIALS[t][1].values()) for t in (1, 3)]  # re-evaluated beside it, uncompressed
    assert est.seed_std_source == "pooled" and est.seed_std == pytest.approx(  # and in the pooled one
        ((own ** 2 + others[0] ** 2 + others[1] ** 2) / 3) ** 0.5)


def test_a_float_only_record_counts_for_an_uncompressed_trial_and_is_retrained_for_a_compressed_one(
        spec, tiny_data, monkeypatch):
    study, trainer = _study(spec, compressed={2: 0.01}), SeedTable()
    FakeCompression(monkeypatch, trainer)
    for trial, accs in ((1, [0.972, 0.945]), (2, [0.965, 0.966])):  # as stored before deployed re-evaluation
        study.set_user_attr(f"{PREFIX}{trial}", {"seeds": [trial, trial + 1000], "accuracies": accs,
                                                 "accuracy_mean": sum(accs) / 2, "accuracy_std": 0.01})
    est = estimates(study, spec, [study.trials[1], study.trials[2]], tiny_data)
    assert est[1].accuracies == pytest.approx((0.972, 0.945)) and est[2].accuracies == pytest.approx((0.955,))
    select(study, spec, "knee", rule="mean", seeds=1, top=3, data=tiny_data, trainer=trainer, resplit=False)
    assert (2, 1) in trainer.calls and (1, 1) not in trainer.calls
    assert stored_stability(study)[2]["accuracies"] == pytest.approx([0.955, 0.936])


def test_export_states_the_uncertainty_and_the_rule(spec, tiny_data):
    study = _study(spec, real_split=True)
    chosen = select(study, spec, "knee", rule="lcb", seeds=2, top=3, data=tiny_data, trainer=SeedTable())
    data = export_data(study, spec, chosen.trial, storage_url="sqlite:///x.db", uncertainty=chosen.estimate.to_data(),
                       selection=chosen.provenance(2, 3))
    u = data["uncertainty"]
    assert u["seeds"] == 2 and u["val_samples"] == 360 and u["test_samples"] == 360 and u["confidence"] == 0.95
    assert u["test_interval"][0] < u["validation_interval"][0] < u["accuracy"] < u["validation_interval"][1]
    assert {k: data["provenance"][k] for k in ("rule", "reeval_seeds", "reeval_top", "resplit", "reevaluated",
                                               "trainings")} == {
        "rule": "lcb", "reeval_seeds": 2, "reeval_top": 3, "resplit": True, "reevaluated": [1, 2, 3], "trainings": 6}


@pytest.mark.parametrize(("rule", "seeds", "top", "same_split", "needle"), [
    ("best", None, None, False, "--rule 'best': choose from lcb, mean, single"),
    ("lcb", 0, None, False, "--reeval-seeds: must be 1 or more, got 0"),
    ("mean", None, -2, False, "--reeval-top: must be 1 or more, got -2"),
    ("single", 2, None, False, "--rule single trains nothing"),
    ("single", None, None, True, "--same-split re-evaluate for --rule lcb or mean"),
])
def test_bad_rule_requests_are_one_line_spec_errors(rule, seeds, top, same_split, needle):
    with pytest.raises(SpecError, match=needle.replace("(", r"\(")):
        check_rule(rule, seeds, top, same_split)


def test_final_reeval_trains_the_knee_candidates_once(tiny_data):
    spec = load_spec(overrides=["measure.final_reeval={top: 2, seeds: 1}"])
    study, trainer = _study(spec), SeedTable()
    trained = final_reeval(study, spec, data=tiny_data, trainer=trainer)
    assert set(trained) == {1, 2} and sorted(trainer.calls) == [(1, 1), (2, 1)]
    assert {k for k in study.user_attrs if k.startswith(PREFIX)} == {f"{PREFIX}1", f"{PREFIX}2"}
    assert final_reeval(study, spec, data=tiny_data, trainer=trainer) == {} and len(trainer.calls) == 2
    assert final_reeval(study, load_spec(), data=tiny_data, trainer=trainer) == {}  # off by default


def test_the_front_table_shows_the_mean_and_spread_over_seeds(spec, tiny_data):
    from rich.console import Console

    from scalesearch.search.results.tables import front_table

    study = _study(spec)
    console = Console(width=200, record=True)
    console.print(front_table(study, spec))
    assert "accuracy_mean" not in console.export_text()  # nothing re-evaluated yet: no empty columns
    select(study, spec, "knee", rule="lcb", seeds=2, top=3, data=tiny_data, trainer=SeedTable(), resplit=False)
    console.print(front_table(study, spec))
    text = console.export_text()
    assert "accuracy_mean" in text and "accuracy_std" in text
    row = next(line for line in text.splitlines() if line.strip("│ ").startswith("1 "))
    assert "0.952" in row and "3" in row  # trial 1: mean of 0.972, 0.945, 0.940 over 3 seeds
    assert "accuracy_95%" in text and "[0.9" in row


def test_the_dashboard_note_names_the_accuracy_over_seeds(spec, tiny_data):
    from scalesearch.search.results.notes import front_section

    study = _study(spec)
    assert not any("Accuracy over seeds" in line for line in front_section(study, spec, "sqlite:///x.db"))
    select(study, spec, "knee", rule="lcb", seeds=2, top=3, data=tiny_data, trainer=SeedTable(), resplit=False)
    (line,) = [line for line in front_section(study, spec, "sqlite:///x.db") if "Accuracy over seeds" in line]
    assert "trial 1: 0.9523 ± 0.0172 (3 seeds, 95 % interval [0.9" in line and "trial 3: 0.9800 ± 0.0010 (3 seeds" in line
    assert line.startswith("Accuracy over seeds (deployed,")


def test_the_html_report_shows_the_accuracy_over_seeds_with_its_interval(spec, tiny_data, tmp_path):
    from scalesearch.search.results.html_report import write_report
    from scalesearch.search.results.reeval import seed_summaries, spreads
    from scalesearch.search.results.uncertainty import estimate, pooled

    study = _study(spec)
    text = write_report(study, tmp_path / "before", spec=spec, png=False).path.read_text()
    assert "accuracy over seeds" not in text  # nothing re-evaluated: no empty column
    select(study, spec, "knee", rule="lcb", seeds=2, top=3, data=tiny_data, trainer=SeedTable(), resplit=False)
    text = write_report(study, tmp_path / "after", spec=spec, png=False).path.read_text()
    pool = pooled(spreads(stored_stability(study)))  # over the 3 re-evaluated trials
    low, high = estimate([0.972, 0.945, 0.940], 360, 360, pooled=pool).validation
    assert seed_summaries(study, [study.trials[1]])[1]["interval"] == (low, high)
    assert "accuracy over seeds (mean ± std, 95 % interval)</th>" in text
    assert f"0.9523 ± 0.0172 (3 seeds) [{low:.4f}, {high:.4f}]</td>" in text
    # the stored-score front is trials 0, 1, 3 and 4 (1 dominates 2); 1 and 3 were re-evaluated
    assert text.count("(3 seeds)") == 2 and text.count("<td class=r>-</td><td class=l><code>") == 2


def _add(study, number_params_acc):
    params, acc = number_params_acc
    config = {"family": "resnet", "model": {"width_multiplier": 0.01, "depth_multiplier": 0.5},
              "training": {"lr": 0.1, "epochs": 1, "batch_size": 32}, "seed": 99}
    study.add_trial(optuna.trial.create_trial(values=[acc, params], user_attrs={
        attrs.CONFIG: config, "ss.accuracy": acc, "ss.params": params}))


def test_a_tiny_barely_learned_trial_is_set_aside_and_named(spec, tiny_data):
    plain = select(_study(spec), spec, "knee", rule="single", data=tiny_data)
    study = _study(spec)
    _add(study, (2_700, 0.29))  # trial 5: Pareto-optimal only for being tiny
    chosen = select(study, spec, "knee", rule="single", data=tiny_data)
    assert chosen.trial.number == plain.trial.number
    assert chosen.set_aside.startswith("set aside trial 5 (0.2900): accuracy below 0.5425, half way from chance to the best (chance 0.1")
    assert select(study, spec, "min:params", rule="single", data=tiny_data).trial.number == 0
    by_number = select(study, spec, "knee", trial=5)  # still exportable by number, with a word
    assert by_number.trial.number == 5 and by_number.set_aside.startswith("trial 5 is not a useful model (accuracy below")
    assert select(study, spec, "knee", trial=4).set_aside == ""
    lcb = select(study, spec, "knee", rule="lcb", seeds=2, top=3, data=tiny_data, trainer=SeedTable(), resplit=False)
    assert 5 not in lcb.reevaluated and "trial 5" in lcb.set_aside


def test_an_off_front_pick_says_why_and_the_plan_says_what_it_costs(spec, tiny_data):
    study, lines = _study(spec), []
    chosen = select(study, spec, "knee", rule="lcb", seeds=2, top=3, data=tiny_data, trainer=SeedTable(),
                    resplit=False, on_plan=lines.append)
    assert chosen.trial.number == 2  # dominated by trial 1 on stored single scores
    assert chosen.off_front.startswith("trial 2 is not on the Pareto front run printed (stored single scores; "
                                       "trial 1 dominates it there: accuracy 0.9720 vs 0.9650, params 12K vs 21K)")
    assert lines == ["re-evaluating the top 3 candidates with 2 more seeds each: 6 trainings"]
    assert chosen.provenance(2, 3)["off_front"] == chosen.off_front  # kept in the export, for Python callers too
    assert select(study, spec, "max:accuracy", rule="single", data=tiny_data).off_front == ""


def test_the_default_budget_is_cut_to_a_share_of_the_study_time(spec, tiny_data):
    study, lines = _study(spec, seconds=10.0), []  # 5 trials of 10 s: a training of any costs 10 s, the study 50 s
    chosen = select(study, spec, "knee", rule="lcb", data=tiny_data, trainer=SeedTable(), resplit=False,
                    on_plan=lines.append)
    # fewer candidates first, then fewer seeds: 1 more seed on the study's split still gives a spread of 2
    assert chosen.reevaluated == (1,) and chosen.budget == (1, 1) and chosen.trainings == 1
    assert chosen.trainings * 10.0 <= BUDGET_SHARE * 50.0  # the bound holds
    assert lines == ["re-evaluating the top candidate with 1 more seed each: 1 training, about 10 s; the "
                     "study's trials took 50 s; default budget cut to 25 % of that (--reeval-top/--reeval-seeds to choose)"]
    explicit = select(study, spec, "knee", rule="lcb", seeds=2, top=3, data=tiny_data, trainer=SeedTable(),
                      resplit=False)
    assert explicit.reevaluated == (1, 2, 3)


def test_a_default_budget_the_least_re_evaluation_exceeds_says_so(spec):
    """On fresh partitions a spread needs 2 seeds; when even those cost more than the share, the line
    says what share they take, in the caller's words."""
    study = _study(spec, seconds=10.0)
    ranked = [study.trials[n] for n in (1, 2, 3)]
    top, seeds, line = plan(study, spec, ranked, 2, 3, resplit=True)
    assert (top, seeds) == (1, 2)
    assert line == ("re-evaluating the top candidate with 2 more seeds each: 2 trainings, about 20 s; the study's "
                    "trials took 50 s; 40 % of that, over the default budget of 25 %: fewer trainings would measure "
                    "no seed spread (--rule single trains nothing; --reeval-top/--reeval-seeds to choose)")
    python = plan(study, spec, ranked, 2, 3, resplit=True, caller="python")[2]
    assert python.endswith("(rule='single' trains nothing; top/seeds to choose)") and "--" not in python
    assert plan(study, spec, ranked, 2, 3, resplit=True, explicit=True)[:2] == (3, 2)  # asked for: run as asked


def test_the_closing_front_table_leaves_out_and_names_a_barely_learned_trial(spec):
    from rich.console import Console

    from scalesearch.search.results.tables import front_table

    study = _study(spec)
    _add(study, (2_700, 0.29))  # trial 5
    console = Console(width=250, record=True)
    console.print(front_table(study, spec))
    text = console.export_text()
    assert "Pareto front of digits (4 trials)" in text
    assert not any(line.strip("│ ").startswith("5 ") for line in text.splitlines())
    flat = " ".join(text.split())  # the caption wraps at the table's width
    assert "set aside trial 5 (0.2900): accuracy below 0.4925" in flat and "export --trial N still exports it" in flat


def test_the_knee_steps_up_among_re_evaluated_candidates_on_their_means():
    """Seed 1 of the default study, as measured: the lower bounds ranked a 4.67K model (mean 0.947)
    first though a re-evaluated 8.44K one averaged 0.986; 2.8 points more for 1.8x the params is
    a step a person takes, and the step reads means, not bounds (its seeds spread more)."""
    from types import SimpleNamespace

    from scalesearch.search.results.selection import stepped_up
    from scalesearch.search.results.uncertainty import Estimate

    spec = load_spec(None, [])

    def trial(number, accuracy, params):
        return SimpleNamespace(number=number, values=[accuracy, params], system_attrs={},
                               user_attrs={attrs.metric_key("accuracy"): accuracy, attrs.metric_key("params"): params})

    def est(mean, lower):
        return Estimate(mean, (mean, mean), 0.01, "pooled", 360, 360, 0.95, (lower, 1.0), (lower, 1.0), 10)

    small, middle, wide = trial(23, 0.961, 4_666), trial(13, 0.981, 8_439), trial(22, 0.964, 5_312)
    estimates_ = {23: est(0.947, 0.897), 13: est(0.986, 0.915), 22: est(0.950, 0.907)}
    assert stepped_up(small, [middle, wide, small], estimates_, spec) is middle
    estimates_[13] = est(0.960, 0.915)  # 1.3 points up: not worth a step
    assert stepped_up(small, [middle, wide, small], estimates_, spec) is small
