"""A saturating power law, ``error = a * N**(-b) + c``, fitted robustly to (size, error) points.

The fit minimises a soft-L1 loss on log(error), so one badly trained trial does not drag the
curve and small errors count as much as large ones; N is scaled by its geometric mean to keep
``a`` well conditioned. Several starting floors ``c`` are tried and the best fit kept. Example::

    fit = fit_power_law(params, errors)   # None when there are too few distinct sizes
    fit.exponent, fit(1e5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Fewest distinct sizes to fit three parameters with one degree of freedom to spare.
MIN_POINTS = 5


@dataclass(frozen=True)
class PowerLaw:
    a: float  # at the geometric-mean size ``scale``: error - c = a
    exponent: float  # b
    floor: float  # c: the error it saturates at
    scale: float  # N is measured in units of this size
    points: int

    def __call__(self, size: float) -> float:
        return self.a * (size / self.scale) ** (-self.exponent) + self.floor

    def describe(self, unit: str = "N") -> str:
        """``error ≈ 0.021·(N/41.2K)^-0.52 + 0.011``."""
        floor = f"{self.floor:.2g}" if self.floor >= 5e-4 else "0"
        return f"error ≈ {self.a:.2g}·({unit}/{_short(self.scale)})^-{self.exponent:.2f} + {floor}"


def _short(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.3g}"


def fit_power_law(sizes: Sequence[float], errors: Sequence[float]) -> PowerLaw | None:
    """The fitted law, or None with fewer than :data:`MIN_POINTS` distinct sizes (or no
    positive error to fit)."""
    import numpy as np
    from scipy.optimize import least_squares

    pairs = [(float(n), float(e)) for n, e in zip(sizes, errors, strict=True) if n > 0 and e > 0]
    if len({n for n, _ in pairs}) < MIN_POINTS:
        return None
    n = np.array([p[0] for p in pairs])
    err = np.array([p[1] for p in pairs])
    scale = float(np.exp(np.log(n).mean()))
    x = n / scale
    log_err = np.log(err)
    lowest = float(err.min())

    def residuals(theta: np.ndarray) -> np.ndarray:
        a, b, c = theta
        return np.log(a * x ** (-b) + c) - log_err

    best = None
    for floor in (0.0, 0.5 * lowest, 0.9 * lowest):
        start = _start(x, err, floor)
        result = least_squares(residuals, start, loss="soft_l1", f_scale=0.1,
                               bounds=([1e-12, 0.0, 0.0], [np.inf, 4.0, lowest]))
        if best is None or result.cost < best.cost:
            best = result
    a, b, c = (float(v) for v in best.x)
    return PowerLaw(a, b, c, scale, len(pairs))


def _start(x: object, err: object, floor: float) -> list[float]:
    """A starting point: the straight line through log(x), log(error - floor)."""
    import numpy as np

    excess = np.maximum(np.asarray(err) - floor, 1e-12)
    slope, intercept = np.polyfit(np.log(np.asarray(x)), np.log(excess), 1)
    return [float(math.exp(intercept)), float(min(max(-slope, 0.01), 3.9)), floor]
