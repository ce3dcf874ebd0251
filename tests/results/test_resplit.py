"""Re-evaluation on fresh train/validation partitions (``export``'s default): each extra seed
trains and scores on a stratified redraw of the study's train + validation images, recorded so
it can be redrawn, and the promise reads those trainings, not the split the front was chosen on.

The study is ``test_selection``'s hand-made one with the real digits split recorded; the fake
trainer returns that table's accuracy for (trial, seed) minus an offset per partition it sees.
"""

from __future__ import annotations

import dataclasses

import pytest

from scalesearch.search.config.spec import load_spec
from scalesearch.search.datasets import load_dataset
from scalesearch.search.datasets.recorded import load_for_study, split_record
from scalesearch.search.results.reeval import partition_seed, stored_stability
from scalesearch.search.results.selection import estimates, select
from tests.results.test_selection import TRIALS, SeedTable, _study

OFFSETS = (0.010, 0.020)  # what the first and second partition seen take off every accuracy


class PartitionTable(SeedTable):
    """:class:`SeedTable`, remembering each training's data; a partition is told by its validation labels."""

    def __init__(self):
        super().__init__()
        self.seen: list[tuple[int, tuple[int, ...], int, int, tuple[int, ...]]] = []
        self.partitions: list[tuple[int, ...]] = []

    def __call__(self, model, data, cfg, device, on_epoch=None):
        result = super().__call__(model, data, cfg, device, on_epoch)
        val = tuple(data.val.y.tolist())
        if val not in self.partitions:
            self.partitions.append(val)
        trial = self.calls[-1][0]
        self.seen.append((trial, val, len(data.train), len(data.val), tuple(data.test.y.tolist())))
        acc = result.val_accuracy - OFFSETS[self.partitions.index(val)]
        return dataclasses.replace(result, val_accuracy=acc, curve=[acc])


@pytest.fixture
def spec():
    return load_spec()


def test_each_extra_seed_trains_on_a_fresh_stratified_partition_and_the_promise_reads_them(spec):
    study, trainer = _study(spec, real_split=True), PartitionTable()
    own = load_for_study(study, spec.dataset)
    chosen = select(study, spec, "knee", rule="lcb", seeds=2, top=3, trainer=trainer)
    assert chosen.resplit and chosen.provenance(2, 3)["resplit"] is True and chosen.trainings == 6
    own_val, own_test = tuple(own.val.y.tolist()), tuple(own.test.y.tolist())
    assert len(trainer.partitions) == 2 and own_val not in trainer.partitions  # one per seed, none the study's
    for *_, n_train, n_val, test in trainer.seen:
        assert (n_train, n_val) == (1077, 360) and test == own_test  # the study's sizes; test never redrawn
    counts = [sorted(val).count(c) for val in trainer.partitions for c in range(10)]
    assert min(counts) >= 35 and max(counts) <= 37  # stratified: 10 classes of ~36 validation images
    # Every trial's seed i saw partition i (paired), recorded by its seed, and redrawn from it.
    stored = stored_stability(study)
    seeds = [partition_seed(spec, 1), partition_seed(spec, 2)]
    assert stored[1]["partitions"] == [None, *seeds] and stored[1]["seeds"] == [1, 1001, 2001]
    assert [(t, trainer.partitions.index(v)) for t, v, *_ in trainer.seen] == [(t, i) for t in (1, 2, 3) for i in (0, 1)]
    redrawn = load_dataset(spec.dataset, record=split_record(study), resplit=seeds[0])
    assert tuple(redrawn.val.y.tolist()) == trainer.partitions[0]
    # The promise is the mean over the re-split trainings; the own score (on the study's split) is left out.
    table = TRIALS[chosen.trial.number][1]
    fresh = (table[1] - OFFSETS[0], table[2] - OFFSETS[1])
    assert chosen.estimate.accuracies == pytest.approx(fresh)
    assert stored[chosen.trial.number]["resplit_mean"] == pytest.approx(sum(fresh) / 2)
    assert stored[chosen.trial.number]["accuracy_mean"] == pytest.approx(table[0])  # the study's split: its own


def test_resplit_and_same_split_trainings_are_kept_apart_and_reused(spec, tiny_data):
    study, trainer = _study(spec, real_split=True), PartitionTable()
    select(study, spec, "knee", rule="mean", seeds=1, top=1, trainer=trainer)
    assert select(study, spec, "knee", rule="mean", seeds=1, top=1, trainer=trainer).trainings == 0  # reused
    same = select(study, spec, "knee", rule="mean", seeds=1, top=1, data=tiny_data, trainer=trainer, resplit=False)
    assert same.trainings == 1 and not same.resplit  # a re-split training does not count for the study's split
    (number,) = stored_stability(study)
    record = stored_stability(study)[number]
    assert record["seeds"] == [number, number + 1000, number + 1000]  # own; seed 1 on the study's split, then re-split
    assert record["partitions"] == [None, None, partition_seed(spec, 1)]
    resplit, own_split = (estimates(study, spec, [study.trials[number]], resplit=r)[number] for r in (True, False))
    assert len(resplit.accuracies) == 1 and len(own_split.accuracies) == 2


def test_partitions_are_seeded_by_the_study_seed_and_the_training_index():
    zero, one = load_spec(), load_spec(overrides=["sampler.seed=1"])
    assert partition_seed(zero, 1) == partition_seed(load_spec(), 1)
    assert len({partition_seed(zero, 1), partition_seed(zero, 2), partition_seed(one, 1), partition_seed(one, 2)}) == 4


def test_the_study_note_says_which_accuracies_are_re_split(spec):
    from scalesearch.search.results.notes import front_section

    study = _study(spec, real_split=True)
    select(study, spec, "knee", rule="lcb", seeds=2, top=3, trainer=PartitionTable())
    (line,) = [line for line in front_section(study, spec, "sqlite:///x.db") if "Accuracy over seeds" in line]
    assert "trial 1: " in line and "(2 seeds, re-split, 95 % interval [0.9" in line
