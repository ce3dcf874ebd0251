"""The sampler's seed for this process, derived from the study's state so that it never repeats.

A seeded sampler proposes the same sequence every time it is created. Re-creating it with the
spec's seed when a study resumes (``scalesearch run`` again) or when a worker joins would
propose the first trials' configurations a second time. So the seed a process uses is derived
from the spec's seed (plus the worker's ``--index``) and the number of trials the study already
holds when the process opens it:

- a new, empty study uses the spec's seed itself (``sampler.seed: 0`` gives the same study every
  time: a seeded study stays reproducible, and so does its resumption from the same state);
- a study that holds ``n`` trials (WAITING ones aside) uses ``seed + n * STRIDE`` (mod 2^31), a sequence no earlier
  process of that study used (a worker's ``seed + index`` differs from it for any
  ``index < STRIDE``).

Each trial records the seed of the sampler that proposed it (``ss.sampler_seed``).
"""

from __future__ import annotations

from typing import Any

STRIDE = 1_000_003  # a prime larger than any worker index
MODULUS = 2**31


def derive_seed(seed: int | None, trials_before: int) -> int | None:
    """The sampler seed for a process that finds ``trials_before`` trials in the study."""
    if seed is None:
        return None  # fresh randomness: nothing to repeat
    return seed if trials_before == 0 else (seed + trials_before * STRIDE) % MODULUS


def study_seed(seed: int | None, study: Any) -> int | None:
    """:func:`derive_seed` for ``study`` as it is now. Every trial counts except WAITING ones
    (enqueued configs, e.g. each family's first trial or a retry, which no sampler proposed)."""
    import optuna

    waiting = optuna.trial.TrialState.WAITING
    return derive_seed(seed, sum(t.state != waiting for t in study.get_trials(deepcopy=False)))
