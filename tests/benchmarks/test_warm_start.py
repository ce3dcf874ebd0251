"""The warm-start benchmark: its queue-only arm really switches the sampler's learning off, and its
tables pair each seed's arms."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.benchmark_helpers import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("warm_start")


CHECK = """
import json
import optuna
from scalesearch.search.config import attrs
from scalesearch.search.config.spec import load_spec
from scalesearch.search.config.system_attrs import set_study_data
from scalesearch.search.storage.storage import stored_study
from scalesearch.search.study import study as study_module
storage = optuna.storages.InMemoryStorage()
optuna.create_study(study_name="s", storage=storage, directions=["maximize", "minimize"])
study = stored_study("s", storage)
study.set_user_attr(attrs.WARM_START, [{"study": "d0"}])
lr = json.dumps(optuna.distributions.distribution_to_json(optuna.distributions.FloatDistribution(1e-3, 1e-2, log=True)))
set_study_data(study, attrs.WARM_TRIALS, [{"study": "d0", "params": {"lr": 3e-3}, "values": [0.9, 1e4],
                                            "distributions": {"lr": json.loads(lr)}}])
sampler = optuna.samplers.TPESampler(seed=0)
print(type(study_module.learning_sampler(study, load_spec(), sampler)).__name__)
"""


@pytest.mark.parametrize("queue_only, expected", [(False, "WarmSampler"), (True, "TPESampler")])
def test_the_queue_only_arm_leaves_the_samplers_model_out(bench, queue_only, expected):
    """The same check of a warm-started study's sampler, with and without the arm's patch: the
    product wraps TPE; the queue-only process leaves it as it is."""
    patch = bench.QUEUE_ONLY.split("from scalesearch.cli")[0] if queue_only else ""
    out = subprocess.run([sys.executable, "-c", patch + CHECK], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == expected


def _seed(cold8: float, cold16: float, warm8: float, warm16: float, queue8: float, queue16: float) -> dict:
    return {"cold-8": {"hv8": cold8, "hv16": None}, "cold-16": {"hv8": 0.0, "hv16": cold16},
            "warm-16": {"hv8": warm8, "hv16": warm16}, "queue-16": {"hv8": queue8, "hv16": queue16}}


def test_the_tables_pair_each_seeds_arms(bench):
    results = {"narrow": {"0": _seed(0.10, 0.20, 0.20, 0.24, 0.15, 0.22),
                          "1": _seed(0.20, 0.22, 0.26, 0.26, 0.21, 0.25)}}
    warm = bench.report(results).splitlines()
    at8 = next(line for line in warm if "| 8 |" in line)
    assert "0.1500 ± 0.0500 | 0.2300 ± 0.0300 | 1.53x | +0.0800 ± 0.0200 |" in at8
    assert "+0.0350 ± 0.0350" in at8  # warm - 1.3 cold: 0.07 and 0.00
    queue = bench.queue_report(results).splitlines()
    assert "| 0.1800 ± 0.0300 | 0.2300 ± 0.0300 | +0.0500 ± 0.0000 |" in next(line for line in queue if "| 8 |" in line)
    assert "+0.0150 ± 0.0050 |" in next(line for line in queue if "| 16 |" in line)


def test_cold_at_8_is_read_from_cold_16_when_no_cold_8_ran(bench):
    seed = _seed(0.10, 0.20, 0.20, 0.24, 0.15, 0.22)
    del seed["cold-8"]
    seed["cold-16"]["hv8"] = 0.16
    at8 = next(line for line in bench.report({"narrow": {"0": seed}}).splitlines() if "| 8 |" in line)
    assert "| 0.160 -> 0.200 |" in at8 and bench.cold_arm(seed, 8) == "cold-16"


def test_the_narrow_target_is_the_default_space_narrowed(bench):
    space = bench.narrow_space(20)
    assert list(space["families"]) == ["resnet"] and space["families"]["resnet"]["width_multiplier"]["high"] == 0.25
    assert space["training"]["epochs"] == 20 and "augment" in space["training"]
    assert space["compression"]["pruning_ratio"] == {"choices": [0.0, 0.25]}
    assert bench.narrow_space(4)["compression"]["finetune_epochs"] == 1 and bench.recipe(20) == []


def test_headroom_pools_every_arms_trials(bench):
    def trials(*points):
        return {"trials": [{"state": "COMPLETE", "values": list(v)} for v in points]}

    entry = {"cold-16": trials((0.95, 1e4)) | {"hv8": bench.hypervolume([(0.95, 1e4)])},
             "warm-16": trials((0.97, 1e4), (0.99, 1e5))}
    line = bench.headroom({"pixels": {"0": entry}}).splitlines()[-1]
    pooled = bench.hypervolume([(0.97, 1e4), (0.99, 1e5)])  # 0.07 x 3 + 0.02 x 2
    assert pooled == pytest.approx(0.25) and f"| {pooled:.4f} ± nan | {pooled / 0.15:.2f}x" in line
