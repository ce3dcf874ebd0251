"""The ``early_stopping`` section of a spec and the names of the rules, without the rules.

The spec (``search/config/spec.py``) checks its section here, so reading a spec imports neither
the rules nor what they stand on (the trainer, the Pareto ranking, the storage readers). The
rules themselves are built by name in ``search/study/early_stopping.py``, whose registry has
exactly the names listed here (``tests/study/test_early_stopping.py`` checks that).
"""

from __future__ import annotations

from dataclasses import dataclass

from scalesearch.errors import SpecError, UnknownNameError

#: Every early-stopping rule by name, with what it does.
RULES: dict[str, str] = {
    "none": "every trial trains its full epoch budget",
    "asha": "asynchronous successive halving on epochs with a Pareto ranking",
}


@dataclass(frozen=True)
class EarlyStoppingSpec:
    """Successive halving on epochs (``asha``) or ``none``; see ``search/study/early_stopping.py``.

    Rungs at ``min_epochs * eta**k`` epochs; at each, the top ``1/eta`` of the trials that reached
    it continue. The first ``min_trials_per_rung`` trials at a rung always continue (1: only the
    first; later ones are ranked, and an undominated one continues anyway).
    """

    name: str = "asha"
    min_epochs: int = 3
    eta: float = 3.0
    min_trials_per_rung: int = 1


def validate_early_stopping(es: EarlyStoppingSpec) -> None:
    """Check the ``early_stopping`` section of a spec."""
    if es.name not in RULES:
        raise UnknownNameError(f"early_stopping.name: unknown rule {es.name!r}; choose from {', '.join(RULES)}")
    if es.min_epochs < 1:
        raise SpecError(f"early_stopping.min_epochs: must be at least 1, got {es.min_epochs}")
    if es.eta <= 1:
        raise SpecError(f"early_stopping.eta: must be greater than 1 (e.g. 3: a third of the trials continue), got {es.eta}")
    if es.min_trials_per_rung < 1:
        raise SpecError(f"early_stopping.min_trials_per_rung: must be at least 1, got {es.min_trials_per_rung}")
