"""scalesearch: find the image-classification model that fits your budget.

A multi-objective Optuna study over model scale (timm families, width, depth), compression and
training hyper-parameters, trading accuracy against parameters, FLOPs, latency and size.

From Python (see docs/python.md)::

    import scalesearch

    study = scalesearch.run("studies/digits.yaml", n_trials=10)   # -> optuna.Study
    model_dir = scalesearch.train(scalesearch.export(study), "model/").out_dir
    model = scalesearch.load_model(model_dir)
    study = scalesearch.load_study("digits", "sqlite:///runs.db")  # a study run earlier

Importing this package is light: torch, timm and optuna load when a function needs them.
"""

from scalesearch.api import export, load_model, load_study, report, run, train

__version__ = "0.1.0"

__all__ = ["__version__", "export", "load_model", "load_study", "report", "run", "train"]
