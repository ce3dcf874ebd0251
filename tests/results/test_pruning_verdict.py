"""Pruned models against the best unpruned model of at most their size, in one line."""

from __future__ import annotations

from types import SimpleNamespace

from scalesearch.search.results.pruning_verdict import compare_pruned, pruning_verdict_line


def _point(number, accuracy, params, ratio=0.0, *, kind=None, stopped=False, feasible=True):
    return SimpleNamespace(number=number, metrics={"accuracy": accuracy, "params": params}, stopped=stopped,
                           feasible=feasible, kind=kind or ("pruned" if ratio else "uncompressed"),
                           params={"pruning_ratio": ratio})


POINTS = [
    _point(0, 0.95, 10_000), _point(1, 0.97, 20_000), _point(2, 0.99, 80_000),
    _point(3, 0.98, 25_000, 0.5),  # beats trial 1 (0.97 at 20K): +1 pt
    _point(4, 0.90, 12_000, 0.5),  # trails trial 0 (0.95 at 10K): -5 pt
    _point(5, 0.96, 30_000, 0.25, kind="pruned + int8_static"),  # trails trial 1: -1 pt
    _point(6, 0.50, 5_000, 0.5),  # smaller than every unpruned trial
    _point(7, 0.99, 15_000, 0.5, stopped=True), _point(8, 0.99, 15_000, 0.5, feasible=False),  # not counted
]


def test_each_pruned_trial_meets_the_best_unpruned_one_of_at_most_its_params():
    by_trial = {c.pruned.number: c for c in compare_pruned(POINTS)}
    assert sorted(by_trial) == [3, 4, 5, 6]
    assert by_trial[3].rival.number == 1 and round(by_trial[3].gap, 4) == 0.01
    assert by_trial[4].rival.number == 0 and round(by_trial[4].gap, 4) == -0.05
    assert by_trial[5].rival.number == 1 and by_trial[5].ratio == 0.25
    assert by_trial[6].rival is None and by_trial[6].gap is None


def test_one_line_per_study_grouped_by_ratio():
    assert pruning_verdict_line(POINTS) == (
        "Pruned vs the best unpruned model of at most the same params: ratio 0.25: 0 of 1 ahead (mean -1.0 pt); "
        "ratio 0.5: 1 of 3 ahead (mean -2.0 pt), 1 smaller than every unpruned model.")
    assert pruning_verdict_line([p for p in POINTS if p.kind == "uncompressed"]) is None
