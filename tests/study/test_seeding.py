"""Issue 15, item 1: a resumed or joining process never re-proposes the configs already tried,
and a seeded study stays reproducible."""

from __future__ import annotations

import pytest

from scalesearch.search.config import attrs
from scalesearch.search.config.spec import load_spec
from scalesearch.search.runtime.workers import prepare_worker
from scalesearch.search.study.seeding import STRIDE, derive_seed
from scalesearch.search.study.study import open_study, run_study
from tests.conftest import TINY_OVERRIDES

# One family and random sampling: nothing is enqueued, so every config comes from the sampler
# (the reproduction in the issue: `--set space=vit --set sampler.name=random`, 2 then 4 trials).
ONE_FAMILY = [*TINY_OVERRIDES, "space.families={resnet: {width_multiplier: {low: 0.0625, high: 0.125}, "
              "depth_multiplier: 0.5, block: basic}}", "sampler.name=random", "early_stopping.name=none"]


def _configs(study):
    return [tuple(sorted(t.params.items())) for t in study.get_trials(deepcopy=False)]


def _run(url, n_trials, data, trainer, sampler="random"):
    spec = load_spec(None, [*ONE_FAMILY, f"sampler.name={sampler}"])
    study, spec = open_study(spec, url, budget={"n_trials": n_trials})
    run_study(study, spec, data=data, device="cpu", trainer=trainer)
    return study


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_a_resumed_study_proposes_new_configs(sampler, storage_url, tiny_data, fake_trainer):
    _run(storage_url, 2, tiny_data, fake_trainer, sampler)
    study = _run(storage_url, 4, tiny_data, fake_trainer, sampler)
    configs = _configs(study)
    assert len(configs) == 4 and len(set(configs)) == 4, configs  # trials 2, 3 repeated 0, 1 before
    seeds = [t.user_attrs[attrs.SAMPLER_SEED] for t in study.trials]
    assert seeds == [0, 0, 2 * STRIDE, 2 * STRIDE]  # recorded: the spec's seed, then one moved on by 2 trials


def test_a_seeded_study_is_reproducible_including_its_resumption(tmp_path, tiny_data, fake_trainer):
    runs = []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / name}.db"
        _run(url, 2, tiny_data, fake_trainer)
        runs.append(_configs(_run(url, 4, tiny_data, fake_trainer)))
    assert runs[0] == runs[1]


def test_a_worker_joining_with_index_0_does_not_repeat_run(storage_url, tiny_data, fake_trainer):
    first = _run(storage_url, 2, tiny_data, fake_trainer)
    study, spec = open_study(None, storage_url, first.study_name, budget={"n_trials": 4})
    spec = prepare_worker(study, spec, index=0, device="cpu")
    run_study(study, spec, data=tiny_data, device="cpu", trainer=fake_trainer)
    configs = _configs(study)
    assert len(set(configs)) == len(configs) == 4, configs


def test_derived_seeds_never_collide_with_worker_seeds():
    assert derive_seed(None, 5) is None and derive_seed(7, 0) == 7
    # A spec seed plus worker index (0..8), any number of trials already in the study (0..49).
    seen = {derive_seed(base, n) for base in range(9) for n in range(50)}
    assert len(seen) == 9 * 50
