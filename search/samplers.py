"""Optuna samplers by name. ``auto`` is Optuna's own default (TPE in Optuna 5)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

ConstraintsFunc = Callable[[Any], Sequence[float]] | None


def _auto(seed: int | None, constraints: ConstraintsFunc, n_trials: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed, constraints_func=constraints)


def _tpe(seed: int | None, constraints: ConstraintsFunc, n_trials: int) -> Any:
    return _complete_trials_tpe()(
        seed=seed, constraints_func=constraints, multivariate=True, group=True,
        n_startup_trials=max(4, min(10, n_trials // 3)),
    )


def _complete_trials_tpe() -> type:
    """TPE whose "good" group, in a multi-objective study, is the best 10 % of the COMPLETE trials.

    Optuna's multi-objective TPE puts ``ceil(0.1 n)`` trials in its good group, ``n`` counting
    pruned trials too. When early stopping ends most trials, that group is every complete trial,
    dominated ones included, then the pruned trials that got furthest: a far looser idea of
    "good" than the same study gets without early stopping (the best 2 of 20 trials). Counting
    complete trials only keeps that selectivity; pruned trials still shape the "bad" group. In a
    study with no pruned trials nothing changes, and single-objective studies keep Optuna's rule
    (TPE ranks their pruned trials by their reported curves).
    """
    import optuna
    from optuna.trial import TrialState

    class CompleteTrialsTPE(optuna.samplers.TPESampler):
        def __init__(self, **kwargs: Any):
            self._complete: int | None = None  # set before each sampling call (None: Optuna's rule)
            with warnings.catch_warnings():  # ``gamma``: deprecated in Optuna 4.9, removed in 6.0 (pinned < 6)
                warnings.filterwarnings("ignore", message=".*`gamma`", category=FutureWarning)
                super().__init__(gamma=self._good_group, **kwargs)

        def _good_group(self, n: int) -> int:
            if self._complete is None:
                return min(math.ceil(0.1 * n), 25)  # Optuna's default_gamma
            return max(1, math.ceil(0.1 * self._complete))

        def _count(self, study: Any) -> None:
            multi = len(study.directions) > 1
            self._complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) if multi else None

        def sample_relative(self, study: Any, trial: Any, search_space: Any) -> dict[str, Any]:
            self._count(study)
            return super().sample_relative(study, trial, search_space)

        def sample_independent(self, study: Any, trial: Any, param_name: str, param_distribution: Any) -> Any:
            self._count(study)
            return super().sample_independent(study, trial, param_name, param_distribution)

    return CompleteTrialsTPE


def _nsga2(seed: int | None, constraints: ConstraintsFunc, n_trials: int) -> Any:
    import optuna

    population = max(8, min(50, n_trials // 4))
    return optuna.samplers.NSGAIISampler(seed=seed, constraints_func=constraints, population_size=population)


def _random(seed: int | None, constraints: ConstraintsFunc, n_trials: int) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


SAMPLERS: dict[str, Callable[[int | None, ConstraintsFunc, int], Any]] = {
    "auto": _auto, "tpe": _tpe, "nsga2": _nsga2, "random": _random,
}


def make_sampler(name: str, seed: int | None, constraints: ConstraintsFunc = None, n_trials: int = 100) -> Any:
    """The sampler registered as ``name``, seeded (``seed`` None = nondeterministic)."""
    return SAMPLERS[name](seed, constraints, n_trials)
