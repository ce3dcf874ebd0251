"""``accuracy_std`` after the search, for the trials that matter: the Pareto front.

Measuring stability costs K trainings per configuration, so unless it is an objective (or in
``measure.extra_metrics``) it is measured here, on request, for the Pareto-optimal trials.
Finished trials cannot take new attributes, so each result is a study attribute
``ss.stability.<trial number>``; :func:`stored_stability` reads them back.
"""

from __future__ import annotations

from typing import Any

from scalesearch.errors import StorageError
from scalesearch.search.config import attrs
from scalesearch.search.config.spec import StudySpec
from scalesearch.search.results.report import complete_trials, pareto_trials
from scalesearch.search.study.objective import train_config
from scalesearch.search.training.models import build_model
from scalesearch.search.training.robustness import stability
from scalesearch.search.training.train import Trainer, train

PREFIX = "ss.stability."


def measure_stability(study: Any, spec: StudySpec, *, runs: int | None = None, trials: list[Any] | None = None,
                      data: Any = None, device: str | None = None, trainer: Trainer = train,
                      remeasure: bool = False) -> dict[int, dict[str, Any]]:
    """Train each of ``trials`` (default: the Pareto front) ``runs`` times with different seeds
    and store ``accuracy_std`` for it. Trials that already have it are left alone unless
    ``remeasure``. Returns ``{trial number: {"accuracy_std", "accuracy_mean", "accuracies", "seeds"}}``.
    """
    from scalesearch.search.runtime.device import resolve_device
    from scalesearch.search.study.study import load_data

    device = resolve_device(device or spec.device)
    runs = runs or spec.measure.stability_runs
    trials = pareto_trials(complete_trials(study), spec) if trials is None else trials
    if not trials:
        raise StorageError(f"study {study.study_name!r} has no completed trial to measure stability for")
    done = stored_stability(study)
    todo = [t for t in trials if remeasure or (t.number not in done and attrs.metric_key("accuracy_std") not in t.user_attrs)]
    if todo and data is None:
        data = load_data(spec.dataset, None, device, study=study)
    out = {}
    for t in todo:
        config = t.user_attrs[attrs.CONFIG]
        cfg = train_config(spec, config["training"], config["seed"])
        result = stability(lambda seed, c=config: build_model(c | {"seed": seed}, data),
                           data, cfg, device, trainer, runs)
        out[t.number] = {"accuracy_std": result.std, "accuracy_mean": result.mean,
                         "accuracies": list(result.accuracies), "seeds": list(result.seeds)}
        study.set_user_attr(f"{PREFIX}{t.number}", out[t.number])
    return out


def stored_stability(study: Any) -> dict[int, dict[str, Any]]:
    """Every stability measurement stored on ``study``, by trial number."""
    return {int(key[len(PREFIX):]): value for key, value in study.user_attrs.items() if key.startswith(PREFIX)}


