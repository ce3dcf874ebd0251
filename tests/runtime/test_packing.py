"""search/runtime/packing.py: how many workers share one GPU."""

from __future__ import annotations

import math

import pytest

from scalesearch.search.runtime.packing import (
    CONTEXT_MB,
    fits_in_memory,
    recommend_workers,
    workers_for_memory,
)
from scalesearch.search.runtime.workers import assign_device


def test_more_workers_than_gpus_are_packed_round_robin():
    assert [assign_device("auto", i, 2) for i in range(5)] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"]
    assert [assign_device("cuda", i, 1) for i in range(3)] == ["cuda:0"] * 3
    assert assign_device("auto", 3, 0) == "cpu"


def test_the_fewest_workers_that_reach_the_best_rate_are_recommended():
    assert recommend_workers({1: 100.0, 2: 180.0, 4: 300.0, 8: 305.0}) == 4  # 8 is within 5 % of 4
    assert recommend_workers({1: 100.0, 2: 90.0}) == 1
    assert recommend_workers({}) is None
    assert recommend_workers({1: math.nan}) is None


def test_memory_rules_out_counts_that_do_not_fit():
    rates = {1: 100.0, 2: 180.0, 4: 300.0, 8: 400.0}
    free = 4 * (1000 + CONTEXT_MB) / 0.8  # exactly four trials of 1000 MB
    assert recommend_workers(rates, free_mb=free, peak_mb=1000.0) == 4
    assert fits_in_memory(4, free, 1000.0) and not fits_in_memory(5, free, 1000.0)
    assert fits_in_memory(64, None, 1000.0)


@pytest.mark.parametrize(("free_mb", "peak_mb", "expected"), [(140_000, 200, 8), (2000, 200, 2), (100, 5000, 1)])
def test_workers_for_memory_is_bounded(free_mb, peak_mb, expected):
    assert workers_for_memory(free_mb, peak_mb) == expected
