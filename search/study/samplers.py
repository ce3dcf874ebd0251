"""Optuna samplers by name. ``auto`` is Optuna's own default (TPE in Optuna 5).

Constraints: Optuna 5 deprecates the samplers' ``constraints_func`` argument; its samplers read
the constraint values each trial stores with ``trial.set_constraint`` (the objective does that,
``search/study/constraints.py``). Optuna 4 has no ``set_constraint``, so there the samplers get
the ``constraints_func``. :func:`make_sampler` picks the route the installed Optuna supports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

ConstraintsFunc = Callable[[Any], Sequence[float]] | None
#: Attribute set on every sampler :func:`make_sampler` builds: the seed it was given.
SEED_ATTR = "scalesearch_seed"


def trials_store_constraints() -> bool:
    """Whether this Optuna stores constraints per trial (``Trial.set_constraint``, Optuna >= 5)."""
    import optuna

    return hasattr(optuna.trial.Trial, "set_constraint")


def tpe_startup_trials(n_trials: int) -> int:
    """Random trials before ``tpe`` models the study: a third of the budget, 4 to 10."""
    return max(4, min(10, n_trials // 3))


def _auto(seed: int | None, constraints: ConstraintsFunc, n_trials: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed, constraints_func=constraints)


def _tpe(seed: int | None, constraints: ConstraintsFunc, n_trials: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(
        seed=seed, constraints_func=constraints, multivariate=True, group=True,
        n_startup_trials=tpe_startup_trials(n_trials),
    )


def _nsga2(seed: int | None, constraints: ConstraintsFunc, n_trials: int) -> Any:
    import optuna

    population = max(8, min(50, n_trials // 4))
    return optuna.samplers.NSGAIISampler(seed=seed, constraints_func=constraints, population_size=population)


def _random(seed: int | None, constraints: ConstraintsFunc, n_trials: int) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


#: The samplers by name: the names of ``sampler_spec.SAMPLER_NAMES``, which the spec checks against.
SAMPLERS: dict[str, Callable[[int | None, ConstraintsFunc, int], Any]] = {
    "auto": _auto, "tpe": _tpe, "nsga2": _nsga2, "random": _random,
}


def make_sampler(name: str, seed: int | None, constraints: ConstraintsFunc = None, n_trials: int = 100) -> Any:
    """The sampler registered as ``name``, seeded (``seed`` None = nondeterministic).

    ``constraints`` reaches the sampler only on an Optuna without ``Trial.set_constraint``.
    """
    if trials_store_constraints():
        constraints = None  # Optuna >= 5: the objective stores them on each trial instead
    sampler = SAMPLERS[name](seed, constraints, n_trials)
    setattr(sampler, SEED_ATTR, seed)
    return sampler
