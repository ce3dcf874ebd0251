"""Warm start (issue 26): mapping earlier configurations into a new space, the queue of the
earlier useful front, the sampler learning from earlier trials the study never counts, resume,
and several workers sharing one queue. A fake trainer keeps every study to milliseconds a trial."""

from __future__ import annotations

import io
import multiprocessing
import sqlite3

import optuna
import pytest
from rich.console import Console

from scalesearch.errors import WarmStartError
from scalesearch.search.config import attrs
from scalesearch.search.config.spec import load_spec
from scalesearch.search.results.export import export_data
from scalesearch.search.results.notes import study_note
from scalesearch.search.results.study_view import read_study
from scalesearch.search.runtime.workers import prepare_worker
from scalesearch.search.study import warm_start
from scalesearch.search.study.launch import open_run
from scalesearch.search.study.space_mapping import Changes, map_config
from scalesearch.search.study.study import count_finished, open_study, run_study
from scalesearch.search.study.warm_sampler import rank_quantiles
from scalesearch.spaces.space import parse_space
from tests.conftest import TINY_OVERRIDES, FakeTrainer
from tests.workers_helpers import (
    BACKENDS,
    FAKE_SPEC,
    create_study,
    fake_worker,
    load,
    postgres_url,  # noqa: F401  (fixture)
    scalesearch,
    states,
    storage_url_for,
    tiny_spec_data,
    write_spec,
)

SOURCE = [*TINY_OVERRIDES, "budget.n_trials=6", "study_name=before", "sampler.name=tpe"]


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200), out


@pytest.fixture(scope="module")
def source_file(tmp_path_factory, tiny_data):
    """A finished earlier study ``before`` (6 trials on the tiny resnet/convnext space), run once."""
    path = tmp_path_factory.mktemp("warm") / "source.db"
    study, spec = open_study(load_spec(None, SOURCE), f"sqlite:///{path}")
    run_study(study, spec, data=tiny_data, device="cpu", trainer=FakeTrainer())
    return path


@pytest.fixture
def source(source_file, storage_url):
    """The earlier study, copied into this test's storage."""
    with sqlite3.connect(source_file) as src, sqlite3.connect(storage_url.removeprefix("sqlite:///")) as dst:
        src.backup(dst)


def _warm(storage_url, name="after", refs=("before",), overrides=(), n_trials=4):
    console, out = _console()
    launch = open_run(None, console=console, storage=storage_url, study_name=name, n_trials=n_trials,
                      overrides=[*TINY_OVERRIDES, "sampler.name=tpe", *overrides], warm_start=list(refs))
    return launch, out.getvalue()


# --------------------------------------------------------------------------- mapping


SPACE = parse_space({
    "name": "new", "input_size": 8,
    "families": {"resnet": {"width_multiplier": {"low": 0.0625, "high": 0.25, "log": True},
                            "depth_multiplier": {"choices": [0.5, 1.0]}, "block": "basic"}},
    "training": {"lr": {"low": 1.0e-3, "high": 1.0e-2, "log": True}, "epochs": 2,
                 "batch_size": {"choices": [32, 64]}},
    "compression": {"pruning_ratio": {"choices": [0.0, 0.25]}, "finetune_epochs": 1},
})


def test_mapping_clips_drops_and_says_each_change_once():
    changes = Changes()
    earlier = [
        {"family": "resnet", "resnet.width_multiplier": 0.5, "resnet.depth_multiplier": 0.75, "resnet.drop_rate": 0.1,
         "lr": 0.05, "batch_size": 128, "epochs": 12, "pruning_ratio": 0.5},
        {"family": "resnet", "resnet.width_multiplier": 0.01, "resnet.depth_multiplier": 1.0, "lr": 0.003,
         "batch_size": 32, "epochs": 2, "pruning_ratio": 0.0},
        {"family": "convnext", "convnext.width_multiplier": 0.5, "lr": 0.003},
    ]
    mapped = [map_config(c, SPACE, changes) for c in earlier]
    assert mapped[2] is None  # convnext is not in the new space
    first = mapped[0]
    assert first.params == {"resnet.width_multiplier": 0.25, "resnet.depth_multiplier": 0.5, "lr": 0.01,
                            "batch_size": 64, "pruning_ratio": 0.25}
    assert set(first.distributions) == set(first.params)  # single family: "family" is no param
    assert mapped[1].params["resnet.width_multiplier"] == 0.0625
    lines = changes.lines()
    assert "family: convnext is not in this space: configurations dropped (1 of 3 configurations)" in lines
    assert "resnet.width_multiplier: outside [0.0625, 0.25]: clipped to it (2 of 3 configurations)" in lines
    assert "resnet.drop_rate: not in this space: dropped (1 of 3 configurations)" in lines
    assert "epochs: fixed to 2 here (was 12) (1 of 3 configurations)" in lines
    assert any(line.startswith("resnet.depth_multiplier: 0.75 not among the choices") for line in lines)
    assert len(lines) == len(set(lines))


def test_mapped_values_fit_the_new_distributions():
    mapped = map_config({"family": "resnet", "resnet.width_multiplier": 3.0, "resnet.depth_multiplier": 1.0,
                         "lr": 1e-5, "batch_size": 64, "pruning_ratio": 0.25}, SPACE, Changes())
    for name, value in mapped.params.items():
        assert mapped.distributions[name]._contains(mapped.distributions[name].to_internal_repr(value))


def test_rank_quantiles_per_column_with_ties():
    assert rank_quantiles([[0.9, 10], [0.5, 30], [0.9, 20]]) == [[0.75, 0.0], [0.0, 1.0], [0.75, 0.5]]
    assert rank_quantiles([[1.0, 2.0]]) == [[0.5, 0.5]]


# --------------------------------------------------------------------------- a warm-started study


def test_queue_is_the_earlier_useful_front_and_the_study_counts_only_its_own(source, storage_url, tiny_data,
                                                                           fake_trainer):
    launch, said = _warm(storage_url)
    study, spec = launch.study, launch.spec
    assert "warm start from before (6 complete trials)" in said
    waiting = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
    queued = [t for t in waiting if attrs.WARM_FROM in t.user_attrs]
    assert 1 <= len(queued) <= 2  # at most half the budget of 4
    front = warm_start.load_source("before", storage_url, spec)[0].front
    assert {int(t.user_attrs[attrs.WARM_FROM].split()[-1]) for t in queued} <= set(front)
    assert study.user_attrs[attrs.WARM_START][0]["study"] == "before"
    assert type(study.sampler).__name__ == "WarmSampler"
    run_study(study, spec, data=tiny_data, device="cpu", trainer=fake_trainer)
    assert count_finished(study) == 4 and len(study.trials) == 4  # none of the 6 earlier trials
    ran = {t.user_attrs.get(attrs.WARM_FROM) for t in study.trials} - {None}
    assert ran == {t.user_attrs[attrs.WARM_FROM] for t in queued}
    # Where it started from: the study's line for notes and reports, and every export's provenance.
    assert warm_start.started_from(study).startswith("warm-started from before (6 trials, ")
    assert "Warm-started from before (6 trials, " in study_note(study, spec, storage_url)
    assert read_study(study).started_from == warm_start.started_from(study)
    trial = next(t for t in study.trials if attrs.WARM_FROM in t.user_attrs)
    provenance = export_data(study, spec, trial, storage_url=storage_url)["provenance"]
    assert provenance["warm_start"][0]["study"] == "before"
    assert provenance["warm_start_config"] == trial.user_attrs[attrs.WARM_FROM]


def test_the_sampler_sees_the_earlier_trials_and_the_study_does_not(source, storage_url, tiny_data, fake_trainer):
    launch, _ = _warm(storage_url)
    sampler, study = launch.study.sampler, launch.study
    helper, _ = sampler.helper(study)
    assert len(helper.trials) == 6  # the earlier complete trials, before any of its own
    run_study(study, launch.spec, data=tiny_data, device="cpu", trainer=fake_trainer)
    assert len(sampler.helper(study)[0].trials) == 6 + 4
    assert len(study.trials) == 4


def test_resume_does_not_queue_again_and_keeps_learning(source, storage_url, tiny_data, fake_trainer):
    launch, _ = _warm(storage_url, n_trials=2)
    run_study(launch.study, launch.spec, data=tiny_data, device="cpu", trainer=fake_trainer)
    before = len(launch.study.trials)
    again, said = _warm(storage_url, n_trials=4)
    assert "keeps its start" in said and len(again.study.trials) == before
    resumed, spec = open_study(None, storage_url, "after")  # as a worker or `run --study-name` opens it
    assert type(resumed.sampler).__name__ == "WarmSampler"
    prepare_worker(resumed, spec, index=1)  # a `worker` process: its own seed, the same learning
    assert type(resumed.sampler).__name__ == "WarmSampler"


@pytest.mark.parametrize("refs, match", [
    (["nosuch"], "warm start 'nosuch': study 'nosuch' not found"),
    (["sqlite:///nowhere/x.db#before"], "warm start 'sqlite:///nowhere/x.db#before': storage: "),
    (["empty"], "warm start 'empty': it has no complete trial yet"),
    (["other"], "warm start 'other': it optimises accuracy, flops, this study accuracy, params"),
])
def test_bad_sources_raise_one_typed_error_and_create_nothing(source, storage_url, refs, match):
    open_study(load_spec(None, [*TINY_OVERRIDES, "study_name=empty"]), storage_url)
    open_study(load_spec(None, [*TINY_OVERRIDES, "study_name=other", "objectives=[accuracy, flops]"]), storage_url)
    names = {s.study_name for s in optuna.get_all_study_summaries(storage_url)}
    with pytest.raises(WarmStartError, match=match):
        _warm(storage_url, refs=refs)
    assert {s.study_name for s in optuna.get_all_study_summaries(storage_url)} == names


def test_other_data_is_allowed_and_said(source, storage_url):
    _, said = _warm(storage_url, overrides=["dataset.input_size=16"])
    assert "before ran on other data (input_size 8 -> 16)" in said


def test_a_study_that_already_ran_cannot_be_warm_started(source, storage_url):
    with pytest.raises(WarmStartError, match="has already run 6 trials"):
        _warm(storage_url, name="before", refs=["before"])


# --------------------------------------------------------------------------- several workers, one queue


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_workers_share_one_warm_start_queue(backend, tmp_path, request):
    """Four worker processes, each as if on its own host (no ask lock: only the storage's atomic
    pop of a waiting trial keeps them apart), on a warm-started TPE study: each queued earlier
    configuration runs exactly once, and the budget is met exactly."""
    url = storage_url_for(backend, tmp_path, request)
    name = f"warm-{backend}-{tmp_path.name}"
    earlier = create_study(url, FAKE_SPEC | {"study_name": f"{name}-before", "sampler": {"name": "tpe", "seed": 0}})
    width = optuna.distributions.FloatDistribution(0.0625, 0.125, log=True)
    for i in range(8):
        earlier.add_trial(optuna.trial.create_trial(
            params={"resnet.width_multiplier": 0.0625 * 2 ** (i / 8)}, distributions={"resnet.width_multiplier": width},
            values=[0.5 + i / 20, 1000.0 + 100 * i]))  # all Pareto-optimal
    spec_data = FAKE_SPEC | {"study_name": name, "sampler": {"name": "tpe", "seed": 0}, "budget": {"n_trials": 8}}
    study = create_study(url, spec_data)
    spec = open_study(None, url, name)[1]
    plan = warm_start.prepare([f"{name}-before"], url, spec)
    warm_start.begin(study, spec, plan, lambda line: None)
    assert len(plan.queue) == warm_start.QUEUED
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        ready = tmp_path / "ready"
        ready.mkdir()
        results = pool.starmap(fake_worker, [(url, name, 0.05, seed, False, (str(ready), 4)) for seed in range(4)],
                               chunksize=1)
    assert all(stopped == "budget" for *_, stopped in results), results
    study = load(url, name)
    counts = states(study)
    assert counts.get("COMPLETE", 0) == 8 and counts.get("WAITING", 0) == 0 and counts.get("RUNNING", 0) == 0, counts
    ran = [t.user_attrs[attrs.WARM_FROM] for t in study.get_trials(deepcopy=False)
           if attrs.WARM_FROM in t.user_attrs and t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(ran) == sorted(q["from"] for q in plan.queue)  # each once, none twice
    assert len({t.user_attrs[attrs.WORKER] for t in study.trials}) >= 2


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a hang guard only (real training on a busy machine)
def test_run_with_workers_warm_starts_once_and_a_resume_keeps_it(tmp_path):
    """End to end: ``run --workers 2 --warm-start`` (real tiny trainings, two worker processes):
    the queue runs once; ``run --study-name`` again with a bigger budget queues nothing again."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    earlier = create_study(url, tiny_spec_data("before", sampler={"name": "tpe", "seed": 0}))
    width = optuna.distributions.FloatDistribution(0.0625, 0.125, log=True)
    lr = optuna.distributions.FloatDistribution(1e-3, 1e-2, log=True)
    for i in range(6):
        earlier.add_trial(optuna.trial.create_trial(
            params={"resnet.width_multiplier": 0.0625 * 2 ** (i / 6), "lr": 1e-3 * 10 ** (i / 6)},
            distributions={"resnet.width_multiplier": width, "lr": lr}, values=[0.5 + i / 20, 1000.0 + 100 * i]))
    spec = write_spec(tmp_path / "spec.yaml", tiny_spec_data("after", n_trials=4, sampler={"name": "tpe", "seed": 0}))
    proc = scalesearch("run", str(spec), "--storage", url, "--workers", "2", "--warm-start", "before", cwd=tmp_path)
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, out
    assert "warm start from before (6 complete trials): 2 configurations" in out and "Traceback" not in out
    study = load(url, "after")
    queued = sorted(t.user_attrs[attrs.WARM_FROM] for t in study.trials if attrs.WARM_FROM in t.user_attrs)
    assert states(study) == {"COMPLETE": 4} and len(queued) == 2 and len(set(queued)) == 2
    proc = scalesearch("run", "--storage", url, "--study-name", "after", "--n-trials", "5", "--warm-start", "before",
                       cwd=tmp_path)
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0 and "keeps its start" in out, out
    study = load(url, "after")
    assert states(study) == {"COMPLETE": 5}
    assert sorted(t.user_attrs[attrs.WARM_FROM] for t in study.trials if attrs.WARM_FROM in t.user_attrs) == queued
