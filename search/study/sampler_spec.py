"""The ``sampler`` section of a spec and the names of the samplers, without Optuna.

The spec (``search/config/spec.py``) checks its section here; the samplers themselves are
built by name in ``search/study/samplers.py``, whose registry has exactly the names listed
here (``tests/study/test_samplers.py`` checks that).
"""

from __future__ import annotations

from dataclasses import dataclass

from scalesearch.errors import UnknownNameError

#: ``sampler.startup`` values, with what each gives a new study's first trials (``search/study/startup.py``).
STARTUP_NAMES: dict[str, str] = {
    "scale": "a Latin hypercube over each family's width and depth",
    "random": "the sampler's own draws",
}

#: Every sampler by name, with what it is.
SAMPLER_NAMES: dict[str, str] = {
    "auto": "Optuna's default for the number of objectives",
    "tpe": "multivariate, grouped TPE",
    "nsga2": "NSGA-II, a population sized from the trial budget",
    "random": "uniform random sampling",
}


@dataclass(frozen=True)
class SamplerSpec:
    name: str = "auto"  # auto = Optuna's default for the number of objectives
    seed: int | None = 0
    startup: str = "scale"  # the design of a new study's first trials: search/study/startup.py


def validate_sampler(sampler: SamplerSpec) -> None:
    """Check the ``sampler`` section of a spec."""
    if sampler.name not in SAMPLER_NAMES:
        raise UnknownNameError(f"sampler.name: unknown sampler {sampler.name!r}; choose from {', '.join(SAMPLER_NAMES)}")
    if sampler.startup not in STARTUP_NAMES:
        raise UnknownNameError(f"sampler.startup: unknown startup {sampler.startup!r}; choose from {', '.join(STARTUP_NAMES)}")
