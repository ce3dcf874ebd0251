"""The search-efficiency benchmark's bookkeeping: epochs, hypervolume curves, the verdict."""

from __future__ import annotations

import json
import math

import pytest

from tests.benchmark_helpers import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("search_efficiency")


def trial(state, epochs, accuracy=None, params=None):
    return {"state": state, "epochs": epochs, "accuracy": accuracy, "params": params}


def run(arm, trials, seed=0):
    return {"arm": arm, "seed": seed, "seconds": 1.0, "early_stopping": {}, "trials": trials}


def test_curve_counts_pruned_epochs_and_only_complete_points(bench):
    points = bench.curve(run("a", [trial("COMPLETE", 9, 0.95, 1e4), trial("PRUNED", 3, None, 1e3),
                                   trial("COMPLETE", 9, 0.99, 1e5)]))
    assert [e for e, _ in points] == [0, 9, 12, 21]
    assert points[1][1] == points[2][1] == pytest.approx(0.05 * 3)  # (0.95 - 0.9) x (7 - 4)
    assert points[3][1] == pytest.approx(0.05 * 3 + 0.04 * 2)


def test_summary_reports_when_a_reaches_b_and_the_final_gap(bench):
    b = run("b", [trial("COMPLETE", 9, 0.95, 1e4), trial("COMPLETE", 9, 0.97, 1e4)])
    a = run("a", [trial("PRUNED", 3), trial("COMPLETE", 3, 0.97, 1e4), trial("COMPLETE", 9, 0.98, 1e4)])
    c = run("c", [trial("COMPLETE", 18, 0.91, 1e6)])
    summary = bench.summarize([a, b, c], max_epochs=18, epochs=9)
    (row,) = summary["seeds"]
    assert row["final"]["b"] == pytest.approx(0.07 * 3) and row["final"]["a"] == pytest.approx(0.08 * 3)
    assert row["a_reaches_b_at"] == 6 and row["a_reaches_b_fraction"] == pytest.approx(1 / 3)
    assert row["a_vs_b"] == pytest.approx(0.08 / 0.07 - 1)
    # at 6 epochs (a third) (a) holds all of (b)'s final; (b) and (c) have no trial done yet
    assert row["share_at_third"] == pytest.approx({"a": 1.0, "b": 0.0, "c": 0.0})
    assert not summary["accepted"]  # one seed: the target is a median over three
    three = [dict(r, seed=seed) for seed in range(3) for r in (a, b, c)]
    assert bench.summarize(three, max_epochs=18, epochs=9)["accepted"]


def test_perfect_pruning_trains_only_the_final_front_in_full(bench):
    b = run("b", [trial("COMPLETE", 9, 0.95, 1e4), trial("COMPLETE", 9, 0.93, 1e5),
                  trial("COMPLETE", 9, 0.97, 1e5), trial("COMPLETE", 9, 0.90, 1e6)])
    # Front: the 1st and 3rd. The 2nd costs the first rung; the 4th comes after the front is complete.
    assert bench.perfect_pruning(b, first_rung=3) == 9 + 3 + 9
    assert math.isinf(bench.perfect_pruning(run("b", [trial("PRUNED", 3)]), first_rung=3))
    a = run("a", [trial("COMPLETE", 9, 0.95, 1e4)]) | {"early_stopping": {"min_epochs": 1, "eta": 3.0}}
    assert bench.first_rung([a], epochs=9) == 1
    (row,) = bench.summarize([a, b], max_epochs=36, epochs=9)["seeds"]
    assert row["oracle_fraction"] == pytest.approx((9 + 1 + 9) / 36)


def test_a_trial_finishing_past_the_budget_does_not_count(bench):
    a = run("a", [trial("COMPLETE", 9, 0.95, 1e4), trial("COMPLETE", 12, 0.99, 1e4)])
    b = run("b", [trial("COMPLETE", 9, 0.97, 1e4), trial("COMPLETE", 9, 0.97, 1e4)])
    (row,) = bench.summarize([a, b], max_epochs=18, epochs=9)["seeds"]
    assert row["final"]["a"] == pytest.approx(0.05 * 3)  # the 0.99 trial ended at epoch 21
    assert math.isinf(row["a_reaches_b_at"])  # within the budget it never did
    assert row["a_vs_b"] < 0
    three = [dict(r, seed=seed) for seed in range(3) for r in (a, b)]
    text = bench.table(bench.summarize(three, max_epochs=18, epochs=9))
    assert "| never |" in text and "final hypervolume **never** within the epoch budget" in text
    assert "inf" not in text


def test_the_doc_section_is_replaced_in_place(bench, tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Other\n\nkeep me\n")
    bench.write_doc(doc, "first")
    bench.write_doc(doc, "second")
    text = doc.read_text()
    assert "keep me" in text and "second" in text and "first" not in text
    assert text.count(bench.BEGIN) == 1


SETTINGS = {"epochs": 9, "max_epochs": 18, "overrides": [], "early_stopping_options": []}


def saved_runs(bench, tmp_path, runs):
    (tmp_path / bench.JSON).write_text(json.dumps(SETTINGS | {"runs": runs}))


def current(bench, r):
    return r | {"code": bench.code_digest(), "rule": bench.rule_digest()}


def test_resume_keeps_only_runs_this_code_would_reproduce(bench, tmp_path, capsys):
    assert bench.resumable(tmp_path, SETTINGS) == []  # nothing saved yet
    runs = [current(bench, run("a", [], seed=0)), current(bench, run("b", [], seed=0)),
            current(bench, run("c", [], seed=0)) | {"code": "old"},  # the trainer changed since
            current(bench, run("a", [], seed=1)) | {"rule": "old"},  # the rule changed: (a) only
            current(bench, run("b", [], seed=1)) | {"rule": "old"}]
    saved_runs(bench, tmp_path, runs)
    kept = bench.resumable(tmp_path, SETTINGS)
    assert [(r["arm"], r["seed"]) for r in kept] == [("a", 0), ("b", 0), ("b", 1)]
    assert "arm c seed 0: saved run made with other code, rule or early-stopping options" in capsys.readouterr().out
    # other options for the rule under test: the (a) runs are outdated, the others are not
    other_rule = SETTINGS | {"early_stopping_options": ["min_epochs=1"]}
    assert [r["arm"] for r in bench.resumable(tmp_path, other_rule)] == ["b", "b"]


def test_resume_refuses_other_settings(bench, tmp_path):
    saved_runs(bench, tmp_path, [])
    with pytest.raises(SystemExit, match="other --epochs/--trials/--set settings"):
        bench.resumable(tmp_path, SETTINGS | {"epochs": 3})


def test_a_resumed_run_with_everything_saved_only_reports(bench, tmp_path, monkeypatch):
    plots = []  # matplotlib is a [bench] extra, not a test dependency
    monkeypatch.setattr(bench, "plot", lambda runs, max_epochs, path: plots.append((len(runs), max_epochs, path)))
    front = [trial("COMPLETE", 9, 0.95, 1e4), trial("COMPLETE", 9, 0.97, 1e5)]
    saved_runs(bench, tmp_path, [current(bench, run(arm, front)) for arm in "abc"])
    assert bench.main(["--resume", "--out", str(tmp_path), "--seeds", "0", "--epochs", "9", "--trials", "2"]) == 0
    saved = json.loads((tmp_path / bench.JSON).read_text())
    assert [r["arm"] for r in saved["runs"]] == ["a", "b", "c"] and "summary" in saved
    doc = (tmp_path / "benchmarks.md").read_text()
    assert "NOT met (only 1 seed(s) with both (a) and (b)" in doc
    assert f"Raw numbers: `{tmp_path / bench.JSON}`" in doc  # outside the repository: as given
    assert plots == [(3, 18, tmp_path / "search_efficiency.png")]


def test_hypervolume_is_accuracy_above_0_9_times_log_params_below_7(bench):
    # One point: the box from (0.95, 10^4) to the reference (0.90, 10^7).
    assert bench.hypervolume([(0.95, 1e4)]) == pytest.approx(0.05 * 3)
    # A dominated point and one beyond the reference add nothing; a staircase adds its step.
    assert bench.hypervolume([(0.95, 1e4), (0.93, 1e5), (0.85, 10.0)]) == pytest.approx(0.05 * 3)
    assert bench.hypervolume([(0.95, 1e4), (0.99, 1e6)]) == pytest.approx(0.05 * 3 + 0.04 * 1)
