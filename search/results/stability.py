"""``accuracy_std`` after the search, for the trials that matter: the Pareto front.

Measuring stability costs K trainings per configuration, so unless it is an objective (or in
``measure.extra_metrics``) it is measured here, on request, for the Pareto-optimal trials.
Finished trials cannot take new attributes, so each result is a study attribute
``ss.stability.<trial number>`` (:mod:`scalesearch.search.results.reeval`, which ``export`` and
``measure.final_reeval`` share); :func:`stored_stability` reads them back. The trial's own
training is one of the K, and seeds already stored are not trained again.
"""

from __future__ import annotations

from typing import Any

from scalesearch.errors import StorageError
from scalesearch.search.config import attrs
from scalesearch.search.config.spec import StudySpec
from scalesearch.search.results.reeval import PREFIX, reevaluate, stored_stability
from scalesearch.search.results.report import complete_trials, pareto_trials
from scalesearch.search.training.train import Trainer, train

__all__ = ["PREFIX", "measure_stability", "stored_stability"]


def measure_stability(study: Any, spec: StudySpec, *, runs: int | None = None, trials: list[Any] | None = None,
                      data: Any = None, device: str | None = None, trainer: Trainer = train,
                      remeasure: bool = False) -> dict[int, dict[str, Any]]:
    """Give each of ``trials`` (default: the Pareto front) ``runs`` trainings with different seeds
    (its own + ``runs - 1``) and store ``accuracy_std`` for it. Trials measured inside the study
    (``accuracy_std`` among their metrics) are left alone; ``remeasure`` trains stored seeds
    again. Returns ``{trial number: {"accuracy_std", "accuracy_mean", "accuracies", "seeds"}}``
    for the trials trained in this call.
    """
    runs = runs or spec.measure.stability_runs
    trials = pareto_trials(complete_trials(study), spec) if trials is None else trials
    if not trials:
        raise StorageError(f"study {study.study_name!r} has no completed trial to measure stability for")
    todo = [t for t in trials if attrs.metric_key("accuracy_std") not in t.user_attrs]
    return reevaluate(study, spec, todo, runs, data=data, device=device, trainer=trainer, fresh=remeasure)
