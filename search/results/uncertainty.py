"""How sure a trial's accuracy is: intervals from the validation set's size and the seed spread.

A trial's validation accuracy is one training (one seed) scored on ``n_val`` images. Two noises
sit in it, and a third in what ``scalesearch train`` later reports:

- the seed spread: another seed trains another model; its variance ``s²`` is estimated from the
  trial's trainings with different seeds (``ss.stability.<trial>``, at least 2 of them), or
  pooled from other trials' when a trial has one training (see :func:`pooled_std`);
- the validation split's sampling noise: ``p(1 - p) / n_val``, shared by every seed when they
  all score the same images (averaging seeds does not shrink it). ``export`` re-evaluates each
  extra seed on a fresh train/validation partition by default (``search/results/reeval.py``):
  the spread ``s²`` then holds the partitions' sampling noise too, and the term is kept as it is
  (a conservative interval, never a narrower one);
- the test split's own sampling noise: ``p(1 - p) / n_test``, in the test accuracy of the one
  model ``train`` delivers.

With ``m`` trainings averaging ``p`` (their mean), the variances add (independent sources):

- ``validation`` interval, for the configuration's expected accuracy on this task:
  ``V_val = s² / m + p(1 - p) / n_val``;
- ``test`` interval, for the test accuracy of one more training (what ``train`` reports):
  ``V_test = s² (1 + 1/m) + p(1 - p) (1/n_val + 1/n_test)`` (a prediction interval: the new
  model's own seed and test noise, plus the error of ``p`` itself).

Each variance becomes a Wilson interval around ``p`` with the effective sample size
``n_eff = p(1 - p) / V`` (Kish's design effect: the binomial count that would carry the same
variance). With one seed and only the validation term this is exactly the Wilson interval on
``n_val`` images, and like it the interval stays inside [0, 1] near 100 %. ``p(1 - p)`` is taken
at the Wilson centre (``(p n_val + z²/2) / (n_val + z²)``) so that a perfect score still has noise.

Every accuracy here is a deployed one: a compressed trial's extra seeds are compressed as the
trial was (``search/results/reeval.py``), so the seed spread includes the compression loss.

What the interval is for: the search's protocol -- the config trained on the train split for its
epochs, compressed as configured, scored on a split it never trained on. ``scalesearch train``
follows that protocol by default (``--fit train``), so its test accuracy is judged against the
``test`` interval. ``--fit train+val`` trains on train + validation: more data, and at a fixed
epoch count more optimizer steps, which usually lifts test accuracy by an amount no
validation-based estimate can state (the validation split is then training data). ``train``
still prints the accuracy beside the interval, and says that the interval is for the train
split only (:func:`verdict` with ``fit``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

CONFIDENCE = 0.95


def wilson(p: float, n: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for a proportion ``p`` observed on ``n`` (possibly fractional) trials.

    >>> [round(x, 4) for x in wilson(0.95, 360)]
    [0.9224, 0.9681]
    """
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _binomial_variance(p: float, n: int, confidence: float) -> float:
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    q = (p * n + z * z / 2) / (n + z * z)
    return q * (1 - q)


def _interval(p: float, variance: float, pq: float, confidence: float) -> tuple[float, float]:
    return wilson(p, pq / variance, confidence) if variance > 0 else (p, p)


@dataclass(frozen=True)
class Estimate:
    """A trial's accuracy with its uncertainty (see the module docstring for the formulas)."""

    accuracy: float  # the estimate: mean over seeds, shifted by the compression loss if any
    accuracies: tuple[float, ...]  # one per training (seed)
    seed_std: float | None  # the sample std over seeds; pooled from other trials when pooled
    seed_std_source: str  # "measured", "pooled" or "unknown"
    val_samples: int
    test_samples: int
    confidence: float
    validation: tuple[float, float]
    test: tuple[float, float]

    @property
    def lower(self) -> float:
        """The lower confidence bound on the configuration's accuracy (selection by ``lcb``)."""
        return self.validation[0]

    def to_data(self) -> dict[str, Any]:
        """Plain, rounded data for the export YAML."""
        r = lambda x: round(float(x), 4)  # noqa: E731
        return {
            "accuracy": r(self.accuracy),
            "seeds": len(self.accuracies),
            "accuracies": [r(a) for a in self.accuracies],
            "seed_std": None if self.seed_std is None else r(self.seed_std),
            "seed_std_source": self.seed_std_source,
            "val_samples": self.val_samples,
            "test_samples": self.test_samples,
            "confidence": self.confidence,
            "validation_interval": [r(x) for x in self.validation],
            "test_interval": [r(x) for x in self.test],
            "method": "Wilson intervals with effective size p(1-p)/V; V_val = s^2/m + p(1-p)/n_val; "
                      "V_test = s^2 (1 + 1/m) + p(1-p) (1/n_val + 1/n_test) (scalesearch.search.results.uncertainty)",
        }


def estimate(accuracies: Sequence[float], val_samples: int, test_samples: int, *, pooled: float | None = None,
             offset: float = 0.0, confidence: float = CONFIDENCE) -> Estimate:
    """The :class:`Estimate` of ``m = len(accuracies)`` trainings' validation accuracies.

    ``pooled`` stands in for the seed std when there is one training; ``offset`` shifts the mean
    (a compressed model's accuracy minus its float model's).
    """
    if not accuracies:
        raise ValueError("estimate needs at least one accuracy")
    m = len(accuracies)
    p = min(1.0, max(0.0, statistics.fmean(accuracies) + offset))
    if m >= 2:
        std, source = statistics.stdev(accuracies), "measured"
    else:
        std, source = pooled, ("pooled" if pooled is not None else "unknown")
    s2 = (std or 0.0) ** 2
    pq = _binomial_variance(p, val_samples, confidence)
    v_val = s2 / m + pq / val_samples
    v_test = s2 * (1 + 1 / m) + pq * (1 / val_samples + 1 / test_samples)
    return Estimate(p, tuple(accuracies), std, source, val_samples, test_samples, confidence,
                    _interval(p, v_val, pq, confidence), _interval(p, v_test, pq, confidence))


def pooled_std(spreads: Sequence[tuple[float, int]]) -> float | None:
    """The pooled seed std of several trials' ``(std, trainings)``: ``sqrt(sum (m-1) s² / sum (m-1))``."""
    usable = [(s, m) for s, m in spreads if m >= 2]
    dof = sum(m - 1 for _, m in usable)
    return math.sqrt(sum((m - 1) * s * s for s, m in usable) / dof) if dof else None


def verdict(test_accuracy: float, uncertainty: dict[str, Any], fit: str = "train") -> tuple[bool, str]:
    """Whether ``test_accuracy`` lies in an export's ``test_interval``, and one line saying so;
    ``fit="train+val"`` adds that the interval states the train-split protocol only."""
    low, high = uncertainty["test_interval"]
    inside = low <= test_accuracy <= high
    where = "inside" if inside else ("below" if test_accuracy < low else "above")
    pct = round(100 * uncertainty["confidence"])
    line = (f"test accuracy {test_accuracy:.4f} is {where} the exported {pct} % interval "
            f"[{low:.4f}, {high:.4f}] (estimate {uncertainty['accuracy']:.4f} over "
            f"{uncertainty['seeds']} seed{'s' if uncertainty['seeds'] != 1 else ''})")
    if fit == "train+val":
        line += ("; the interval is for training on the train split (--fit train); this model also trained on "
                 "the validation split, which usually lifts test accuracy by an amount the search did not measure")
    return inside, line
