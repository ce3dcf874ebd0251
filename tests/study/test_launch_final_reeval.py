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
