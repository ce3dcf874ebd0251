"""Studies to draw: one run with the fake trainer (2 objectives, early stopping), and hand-made
ones (3 objectives with compression; a running study) whose trials carry what the objective stores.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna

from scalesearch.search.config import attrs
from scalesearch.search.config.spec import load_spec, spec_to_data
from scalesearch.search.storage.storage import open_storage

#: The default study, small: 30 trials of 4 epochs (early stopping's first rung is at 3).
RUN_OVERRIDES = [
    "budget.n_trials=30", "space.training.epochs=4", "space.training.batch_size=32",
    "space.families.resnet.width_multiplier={low: 0.03125, high: 0.25, log: true}",
    "space.families.convnext.width_multiplier={low: 0.25, high: 0.3}",
    "measure.latency_repeats=2", "measure.latency_warmup=1", "device=cpu", "threads=1",
    "early_stopping.name=asha", "early_stopping.min_epochs=3", "early_stopping.eta=3",
    # Mostly unpruned, so each family has sizes to fit (the fake trainer scores a pruned model poorly).
    "space.compression.pruning_ratio={choices: [0.0, 0.0, 0.0, 0.5]}",
]

COMPRESS = Path(__file__).resolve().parents[2] / "studies" / "digits_compress.yaml"


def run_with_fake_trainer(url: str, data: Any) -> Any:
    """The default spec, shrunk and with early stopping on, run with the fake trainer into ``url``; returns the study."""
    from scalesearch.search.study.study import open_study, run_study
    from tests.conftest import FakeTrainer

    spec = load_spec(None, RUN_OVERRIDES)
    study, spec = open_study(spec, url)
    run_study(study, spec, data=data, device="cpu", trainer=FakeTrainer(), storage_url=url)
    return study


def copy_study(study: Any, url: str, name: str | None = None) -> Any:
    """``study`` with its attrs and trials, in another storage."""
    copy = optuna.create_study(storage=open_storage(url), study_name=name or study.study_name,
                               directions=study.directions)
    copy.set_metric_names(study.metric_names)
    for key, value in study.user_attrs.items():
        copy.set_user_attr(key, value)
    from scalesearch.search.results.study_view import stored_spec_data

    copy.set_user_attr(attrs.SPEC, stored_spec_data(study))  # where hand-made studies keep it
    copy.add_trials([t for t in study.get_trials() if t.state.is_finished()])
    return copy


def compression_study(url: str | None = None, n: int = 30, name: str = "digits_compress") -> Any:
    """The compression example's spec (accuracy, latency_ms, size_mb) with ``n`` hand-made trials:
    two families, every compression kind, a few stopped early at the 3-epoch rung."""
    spec = load_spec(COMPRESS)
    storage = None if url is None else open_storage(url)
    study = optuna.create_study(storage=storage, study_name=name, directions=spec.directions)
    study.set_metric_names(list(spec.objectives))
    study.set_user_attr(attrs.SPEC, spec_to_data(spec))
    kinds = [{"pruning_ratio": 0.0, "quantization": "none"},
             {"pruning_ratio": 0.5, "quantization": "none", "pruning_allocation": "global"},
             {"pruning_ratio": 0.0, "quantization": "int8_static"},
             {"pruning_ratio": 0.3, "quantization": "int8_dynamic", "pruning_allocation": "uniform"}]
    for i in range(n):
        family = ("resnet", "convnext")[i % 2]
        width = 0.125 * 2 ** ((i % 7) / 3)
        compression = kinds[(i // 2) % len(kinds)]
        params = int((8_000 if family == "resnet" else 60_000) * width / 0.125 * (1 - compression["pruning_ratio"]))
        accuracy = 0.80 + 0.19 * (1 - math.exp(-params / 30_000)) - 0.01 * (compression["quantization"] != "none")
        quantized = compression["quantization"] != "none"
        config = {"family": family, "model": {"width_multiplier": width, "depth_multiplier": 0.5},
                  "training": {"lr": 0.002 + 0.0002 * i, "weight_decay": 1e-4, "epochs": 8}, "compression": compression,
                  "seed": i}
        curve = [accuracy * (1 - 0.5 ** e) for e in range(1, 9)]
        user = {attrs.CONFIG: config, "ss.params": params, "ss.flops": params * 9, "ss.val_curve": curve,
                "ss.size_mb": params * (1 if quantized else 4) / 1e6, "ss.epochs_run": 8}
        distributions = {"family": optuna.distributions.CategoricalDistribution(["resnet", "convnext"]),
                         f"{family}.width_multiplier": optuna.distributions.FloatDistribution(0.125, 0.75, log=True),
                         "lr": optuna.distributions.FloatDistribution(1e-3, 1e-2, log=True),
                         "pruning_ratio": optuna.distributions.CategoricalDistribution([0.0, 0.3, 0.5])}
        params_ = {"family": family, f"{family}.width_multiplier": width, "lr": config["training"]["lr"],
                   "pruning_ratio": compression["pruning_ratio"]}
        if i % 5 == 4:  # stopped early at the 3-epoch rung: no latency, no final accuracy
            user |= {"ss.val_curve": curve[:3], attrs.rung_key(3): curve[2], attrs.RUNG_REACHED: 3,
                     "ss.epochs_run": 3, attrs.PRUNE_REASON: "asha: at rung 3 epochs, 2 of 2 peers rank higher"}
            study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED, params=params_,
                                                      distributions=distributions, user_attrs=user))
            continue
        latency = params / 40_000 * (0.5 if quantized else 1.0)
        user |= {"ss.accuracy": accuracy, "ss.latency_ms": latency}
        study.add_trial(optuna.trial.create_trial(values=[accuracy, latency, user["ss.size_mb"]], params=params_,
                                                  distributions=distributions, user_attrs=user))
    return study


def dashboard_figures(study: Any) -> dict[str, str]:
    """What optuna-dashboard reads back as the study's figures: id -> plotly JSON."""
    from optuna_dashboard._custom_plot_data import get_plotly_graph_objects

    storage = study._storage  # noqa: SLF001 - the test reads what the dashboard reads
    return get_plotly_graph_objects(storage.get_study_system_attrs(storage.get_study_id_from_name(study.study_name)))
