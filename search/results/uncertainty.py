"""How sure a trial's accuracy is: intervals from the validation set's size and the seed spread.

A trial's validation accuracy is one training (one seed) scored on ``n_val`` images. Two noises
sit in it, and a third in what ``scalesearch train`` later reports:

- the seed spread: another seed trains another model; its variance ``s²`` is **pooled** over
  every trial the study re-evaluated (``ss.stability.<trial>``; :func:`pooled`):
  ``s² = sum (m_i - 1) s_i² / sum (m_i - 1)`` with ``nu = sum (m_i - 1)`` degrees of freedom.
  One trial's two or three seeds give a std with one or two degrees of freedom, which about one
  time in five comes out far below the truth; a lower-bound rule reading it favours the trial
  whose seeds agreed by chance. Pooled, every trial is read with the same seed noise, and its
  own seeds only move its mean;
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
variance) and, in place of the normal ``z``, Student's ``t`` quantile at the
Welch-Satterthwaite degrees of freedom ``nu_eff = V² / (a² / nu)``, where ``a`` is the seed
term of ``V`` (``s²/m`` or ``s²(1 + 1/m)``) and the binomial terms count as exactly known. With
one seed and no re-evaluation in the study, only the validation term is left and this is
exactly the Wilson interval on ``n_val`` images; like it the interval stays inside [0, 1] near
100 %. ``p(1 - p)`` is taken at the Wilson centre (``(p n_val + z²/2) / (n_val + z²)``) so that
a perfect score still has noise.

Assumptions, stated: (1) seed noise is about the same for every trial pooled: models of similar
size and accuracy vary alike over seeds, and the pool holds only useful models
(:mod:`.useful`: a barely-learned one swings by tens of points and would inflate it); (2) the
seeds of a trial are independent draws around its expected accuracy, normally distributed
(Student's ``t``); (3) the sampling noises of the splits are binomial and independent of the
seed noise.

What the data says about those assumptions: on real picks the retrained test accuracy falls
below the re-evaluated estimate by a few points on average (selection among the re-evaluated
candidates, and digits' test split scores lower than its validation draws; docs/benchmarks.md,
"Selection", ``benchmarks/interval_formulas.py``). Two corrections that are right for an unbiased
estimate -- the validation noise counted once on fresh partitions, and ``p ± t sqrt(V)`` instead
of Wilson's shape, which near 100 % sits lower -- narrowed the intervals and missed those picks,
so they were not adopted: the double count and Wilson's downward shift act as margins here.

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

from scalesearch.errors import option

CONFIDENCE = 0.95


def quantile(confidence: float = CONFIDENCE, dof: float = math.inf) -> float:
    """The two-sided ``confidence`` quantile: normal ``z`` for infinite ``dof``, Student's ``t`` else.

    >>> round(quantile(), 3), round(quantile(dof=4), 3)
    (1.96, 2.776)
    """
    if math.isinf(dof):
        return NormalDist().inv_cdf(0.5 + confidence / 2)
    from scipy import stats

    return float(stats.t.ppf(0.5 + confidence / 2, dof))


def wilson(p: float, n: float, confidence: float = CONFIDENCE, dof: float = math.inf) -> tuple[float, float]:
    """Wilson score interval for a proportion ``p`` observed on ``n`` (possibly fractional) trials,
    with Student's ``t`` in place of ``z`` when ``dof`` is finite.

    >>> [round(x, 4) for x in wilson(0.95, 360)]
    [0.9224, 0.9681]
    """
    z = quantile(confidence, dof)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _binomial_variance(p: float, n: int, confidence: float) -> float:
    z = quantile(confidence)
    q = (p * n + z * z / 2) / (n + z * z)
    return q * (1 - q)


def _interval(p: float, seed_term: float, binomial_term: float, dof: float, pq: float,
              confidence: float) -> tuple[float, float]:
    """The Wilson interval of ``V = seed_term + binomial_term`` at Welch-Satterthwaite's ``nu_eff``."""
    variance = seed_term + binomial_term
    if variance <= 0:
        return p, p
    nu_eff = variance ** 2 / (seed_term ** 2 / dof) if seed_term > 0 and math.isfinite(dof) else math.inf
    return wilson(p, pq / variance, confidence, nu_eff)


@dataclass(frozen=True)
class Pooled:
    """The seed std pooled over re-evaluated trials, with its degrees of freedom and how many trials."""

    std: float
    dof: int
    trials: int


@dataclass(frozen=True)
class Estimate:
    """A trial's accuracy with its uncertainty (see the module docstring for the formulas)."""

    accuracy: float  # the estimate: the mean over seeds
    accuracies: tuple[float, ...]  # one per training (seed)
    seed_std: float | None  # the seed std used: pooled over the study's re-evaluated trials, or this trial's own
    seed_std_source: str  # "pooled", "measured" (own seeds, nothing pooled) or "unknown"
    val_samples: int
    test_samples: int
    confidence: float
    validation: tuple[float, float]
    test: tuple[float, float]
    seed_dof: int | None = None  # degrees of freedom of seed_std

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
            "seed_std_dof": self.seed_dof,
            "val_samples": self.val_samples,
            "test_samples": self.test_samples,
            "confidence": self.confidence,
            "validation_interval": [r(x) for x in self.validation],
            "test_interval": [r(x) for x in self.test],
            "method": "Wilson intervals with effective size p(1-p)/V and Student's t at Welch-Satterthwaite dof; "
                      "V_val = s^2/m + p(1-p)/n_val; V_test = s^2 (1 + 1/m) + p(1-p) (1/n_val + 1/n_test); "
                      "s^2 pooled over the study's re-evaluated trials (scalesearch.search.results.uncertainty)",
        }


def estimate(accuracies: Sequence[float], val_samples: int, test_samples: int, *, pooled: Pooled | None = None,
             confidence: float = CONFIDENCE) -> Estimate:
    """The :class:`Estimate` of ``m = len(accuracies)`` trainings' validation accuracies.

    The seed variance is ``pooled``'s when given (the study's re-evaluated trials, this one's
    included); without it, the trial's own sample variance when it has 2 trainings or more
    (``m - 1`` degrees of freedom); else unknown (the binomial terms alone).
    """
    if not accuracies:
        raise ValueError("estimate needs at least one accuracy")
    m = len(accuracies)
    p = min(1.0, max(0.0, statistics.fmean(accuracies)))
    if pooled is not None:
        std, dof, source = pooled.std, pooled.dof, "pooled"
    elif m >= 2:
        std, dof, source = statistics.stdev(accuracies), m - 1, "measured"
    else:
        std, dof, source = None, None, "unknown"
    s2 = (std or 0.0) ** 2
    pq = _binomial_variance(p, val_samples, confidence)
    nu = float(dof) if dof else math.inf
    validation = _interval(p, s2 / m, pq / val_samples, nu, pq, confidence)
    test = _interval(p, s2 * (1 + 1 / m), pq * (1 / val_samples + 1 / test_samples), nu, pq, confidence)
    return Estimate(p, tuple(accuracies), std, source, val_samples, test_samples, confidence, validation, test, dof)


def pooled(spreads: Sequence[tuple[float, int]]) -> Pooled | None:
    """The pooled seed std of several trials' ``(std, trainings)``: ``sqrt(sum (m-1) s² / sum (m-1))``
    with ``sum (m-1)`` degrees of freedom (None without any trial of 2 trainings or more)."""
    usable = [(s, m) for s, m in spreads if m >= 2]
    dof = sum(m - 1 for _, m in usable)
    return Pooled(math.sqrt(sum((m - 1) * s * s for s, m in usable) / dof), dof, len(usable)) if dof else None


def verdict(test_accuracy: float, uncertainty: dict[str, Any], fit: str = "train",
            caller: str = "cli") -> tuple[bool, str]:
    """Whether ``test_accuracy`` lies in an export's ``test_interval``, and one line saying so;
    ``fit="train+val"`` adds that the interval states the train-split protocol only (naming
    ``--fit`` or, for ``caller="python"``, ``fit=``)."""
    low, high = uncertainty["test_interval"]
    inside = low <= test_accuracy <= high
    where = "inside" if inside else ("below" if test_accuracy < low else "above")
    pct = round(100 * uncertainty["confidence"])
    line = (f"test accuracy {test_accuracy:.4f} is {where} the exported {pct} % interval "
            f"[{low:.4f}, {high:.4f}] (estimate {uncertainty['accuracy']:.4f} over "
            f"{uncertainty['seeds']} seed{'s' if uncertainty['seeds'] != 1 else ''})")
    if fit == "train+val":
        protocol = option(caller, "--fit train", "fit='train'")
        line += (f"; the interval is for training on the train split ({protocol}); this model also trained on "
                 "the validation split, which usually lifts test accuracy by an amount the search did not measure")
    return inside, line
