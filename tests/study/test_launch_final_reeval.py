"""``measure.final_reeval`` at the end of ``scalesearch run``: the knee's top candidates get more
seeds, stored on the study, shown in the front table and the dashboard's study note."""

from __future__ import annotations

from rich.console import Console

from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.results.reeval import stored_stability
from scalesearch.search.study.launch import final_reeval
from scalesearch.search.study.study import open_study, run_study
from tests.workers_helpers import tiny_spec_data


def test_final_reeval_trains_the_top_candidates_and_updates_the_study_note(tmp_path, fake_trainer):
    from optuna_dashboard import get_note

    url = f"sqlite:///{tmp_path / 's.db'}"
    spec = spec_from_data(tiny_spec_data("fr", n_trials=3, epochs=1, measure={
        "latency_repeats": 2, "latency_warmup": 1, "latency_batch_size": 8, "final_reeval": {"top": 1, "seeds": 1}}))
    study, spec = open_study(spec, url)
    run_study(study, spec, trainer=fake_trainer, storage_url=url)
    console = Console(record=True, width=200)
    final_reeval(study, spec, console, url)  # real training: one 1-epoch tiny ResNet
    stored = stored_stability(study)
    (number,) = stored
    assert len(stored[number]["seeds"]) == 2 and stored[number]["accuracy_std"] is not None
    assert f"trial {number}, seed" in console.export_text()
    note = get_note(study)
    assert f"trial {number}: " in note and "(2 seeds, 95 % interval [" in note


def _claim(url: str, name: str, settle: float) -> bool:
    """``ends_study`` as a separate process runs it (a worker of its own)."""
    import optuna

    from scalesearch.search.study.launch import ends_study

    return ends_study(optuna.load_study(study_name=name, storage=url), url, settle=settle)


def test_the_study_is_ended_once_whichever_process_gets_there(tmp_path):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import optuna

    from scalesearch.search.study.launch import FINAL_CLAIM, ends_study

    url = f"sqlite:///{tmp_path / 'e.db'}"
    study = optuna.create_study(study_name="e", storage=url)
    running = study.ask()
    assert not ends_study(study, url, settle=0)  # a trial still runs: its worker ends the study
    assert FINAL_CLAIM not in study.user_attrs
    study.tell(running, 1.0)
    with ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_claim, [url] * 3, ["e"] * 3, [0.5] * 3))
    assert sorted(results) == [False, False, True]
    assert not ends_study(study, url, settle=0)  # later processes find it ended


def test_a_scalesearch_worker_that_ends_the_study_runs_final_reeval_once(tmp_path, fake_trainer, capsys):
    from scalesearch import cli

    url = f"sqlite:///{tmp_path / 'w.db'}"
    spec = spec_from_data(tiny_spec_data("fw", n_trials=2, epochs=1, measure={
        "latency_repeats": 2, "latency_warmup": 1, "latency_batch_size": 8, "final_reeval": {"top": 1, "seeds": 1}}))
    study, spec = open_study(spec, url)
    run_study(study, spec, trainer=fake_trainer, storage_url=url)  # the budget is met; nothing re-evaluated yet
    assert cli.main(["worker", "--storage", url, "--study-name", "fw"]) == 0
    first = capsys.readouterr().out
    assert "measure.final_reeval: the top 1 candidates get 1 more seeds each" in first
    (number,) = stored_stability(study)
    assert len(stored_stability(study)[number]["seeds"]) == 2  # real training: one 1-epoch tiny ResNet
    assert cli.main(["worker", "--storage", url, "--study-name", "fw"]) == 0
    assert "measure.final_reeval" not in capsys.readouterr().out  # once per study
