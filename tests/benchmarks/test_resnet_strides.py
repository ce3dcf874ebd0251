"""The ResNet-strides benchmark: its three stride plans, same weights, and its summary table."""

from __future__ import annotations

import pytest
import torch

from scalesearch.spaces.registry import ModelInput, get_family
from tests.benchmark_helpers import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("resnet_strides")


@pytest.mark.parametrize("last_px", [1, 2, 4])
def test_restride_ends_at_the_asked_map_with_the_same_weights(bench, last_px):
    io = ModelInput(10, 1, 8)
    built = get_family("resnet").build(io, width_multiplier=0.04, depth_multiplier=1.0)
    model = get_family("resnet").build(io, width_multiplier=0.04, depth_multiplier=1.0)
    bench.restride(model, last_px)
    model.eval()
    with torch.no_grad():
        assert model.forward_features(torch.zeros(1, 1, 8, 8)).shape[-1] == last_px
        assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in built.parameters())


def test_summary_pairs_each_map_with_2_px(bench):
    rows = [{"width": 0.04, "last_px": px, "seed": s, "params": 21358, "flops": 1e6 * px, "test": t}
            for px, tests in ((1, (0.96, 0.97)), (2, (0.98, 0.985)), (4, (0.99, 0.99))) for s, t in enumerate(tests)]
    lines = bench.summary(rows)
    assert lines[0].startswith("| 21.4K | 1 px | 1.00M | 0.9650 ± 0.0050 | -0.0175 ± 0.0025 |")
    assert lines[1].endswith("| 0.9825 ± 0.0025 |  |") and lines[2].split("|")[5].strip() == "+0.0075 ± 0.0025"
