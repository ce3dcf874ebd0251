"""Cost measurement: params, FLOPs (torch's counter), serialized size, latency."""

from __future__ import annotations

import torch
from torch import nn

from scalesearch.search.compression.measure import (
    count_flops,
    count_params,
    measure_latency,
    serialized_size,
    static_cost,
)


def test_linear_model_costs_are_exact():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    assert count_params(model) == 650
    assert count_flops(model, (1, 8, 8)) == 2 * 64 * 10  # one multiply-add = 2 FLOPs
    assert serialized_size(model) > 650 * 4


def test_bigger_model_costs_more():
    small, big = nn.Conv2d(1, 4, 3), nn.Conv2d(1, 16, 3)
    a, b = static_cost(small, (1, 8, 8)), static_cost(big, (1, 8, 8))
    assert a.params < b.params and a.flops < b.flops and a.size_mb < b.size_mb


def test_latency_is_a_positive_median_at_two_batch_sizes():
    lat = measure_latency(nn.Conv2d(1, 4, 3), (1, 8, 8), "cpu", batch_size=8, warmup=1, repeats=3)
    assert lat.batch1_ms > 0 and lat.batch_ms > 0 and lat.batch_size == 8 and lat.device == "cpu"


def test_flop_count_leaves_training_mode_alone():
    model = nn.Sequential(nn.BatchNorm2d(1), nn.Flatten())
    model.train()
    count_flops(model, (1, 4, 4))
    assert model.training
    assert torch.equal(model[0].running_mean, torch.zeros(1))


def test_latency_inputs_come_in_the_models_memory_format():
    """A model trained channels-last (on a GPU) is timed on channels-last inputs, as deployed."""
    from scalesearch.search.compression.measure import input_format

    seen = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            seen.append(x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous())
            return self.conv(x)

    plain = Spy()
    assert input_format(plain) == torch.contiguous_format
    measure_latency(plain, (3, 8, 8), "cpu", batch_size=4, warmup=1, repeats=2)
    assert seen and not any(seen)
    seen.clear()
    last = Spy().to(memory_format=torch.channels_last)
    assert input_format(last) == torch.channels_last
    measure_latency(last, (3, 8, 8), "cpu", batch_size=4, warmup=1, repeats=2)
    assert seen and all(seen)


class _Slow(nn.Module):
    """A forward pass that takes ``seconds`` of wall time."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds, self.calls = seconds, 0

    def forward(self, x):
        import time

        self.calls += 1
        time.sleep(self.seconds)
        return x


def test_a_time_bound_cuts_the_passes_of_a_slow_model_but_keeps_three_timed():
    from scalesearch.search.compression.measure import MIN_REPEATS, wall_times_ms

    slow = _Slow(0.02)
    times = wall_times_ms(slow, torch.zeros(1), warmup=3, repeats=15, seconds=0.05)
    assert len(times) == MIN_REPEATS  # the bound ran out during warm-up; three passes still timed
    assert slow.calls == 3 + MIN_REPEATS or slow.calls == 2 + MIN_REPEATS  # warm-up stops once past it
    assert all(t >= 15 for t in times)


def test_a_fast_model_gets_every_repeat_within_the_bound():
    from scalesearch.search.compression.measure import wall_times_ms

    fast = _Slow(0.0)
    assert len(wall_times_ms(fast, torch.zeros(1), warmup=2, repeats=15, seconds=5.0)) == 15
    assert fast.calls == 17
    unbounded = _Slow(0.002)
    assert len(wall_times_ms(unbounded, torch.zeros(1), warmup=1, repeats=7)) == 7  # no bound: all
