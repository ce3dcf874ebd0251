"""front_noise: what one validation image is worth on a final front."""

from __future__ import annotations

import json
import math

import pytest

from tests.benchmark_helpers import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("front_noise")


def test_validation_size_is_the_smallest_count_that_fits_every_accuracy(bench):
    assert bench.validation_size([354 / 360, 353 / 360, 180 / 360]) == 360
    assert bench.validation_size([0.5, 0.75]) == 4
    with pytest.raises(ValueError, match="no validation size"):
        bench.validation_size([1 / math.pi], largest=1000)


def test_one_image_lower_and_the_standard_error(bench, tmp_path, capsys):
    trials = [{"state": "COMPLETE", "accuracy": 0.95, "params": 1e4},
              {"state": "COMPLETE", "accuracy": 0.90, "params": 1e5},  # dominated
              {"state": "PRUNED", "accuracy": None, "params": 1e3},
              {"state": "COMPLETE", "accuracy": 0.975, "params": 1e5}]
    r = bench.noise({"seed": 0, "trials": trials})
    assert r["images"] == 40 and r["front"] == 2
    # (0.95 - 0.9) x (7 - 4) + (0.975 - 0.95) x (7 - 5), then every front point 1/40 lower
    assert r["hv"] == pytest.approx(0.05 * 3 + 0.025 * 2)
    assert r["one_image_lower"] == pytest.approx((0.025 * 3 + 0.025 * 2) / (0.05 * 3 + 0.025 * 2) - 1)
    assert r["error_images"] == pytest.approx((math.sqrt(40 * 0.975 * 0.025), math.sqrt(40 * 0.95 * 0.05)))
    path = tmp_path / "search_efficiency.json"
    path.write_text(json.dumps({"runs": [{"arm": "b", "seed": 0, "trials": trials},
                                         {"arm": "a", "seed": 0, "trials": trials[:1]}]}))
    assert bench.main([str(path)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 0 ")]
    assert rows == ["| 0 | 40 | 2 | 0.2000 | -37.5% | 1.0 to 1.4 |"]


def test_an_unreadable_file_is_one_line(bench, tmp_path):
    with pytest.raises(SystemExit, match="cannot read runs from"):
        bench.main([str(tmp_path / "missing.json")])
