"""The saturating power law error = a*N^(-b) + c: known exponents come back from noisy data."""

from __future__ import annotations

import numpy as np
import pytest

from scalesearch.search.results.power_law import MIN_POINTS, fit_power_law


@pytest.mark.parametrize(("a", "b", "c"), [(5.0, 0.5, 0.01), (50.0, 0.3, 0.05), (2.0, 1.0, 0.0), (0.3, 0.12, 0.002)])
def test_recovers_known_exponents_from_noisy_data(a, b, c):
    rng = np.random.default_rng(0)
    n = np.exp(rng.uniform(np.log(1e3), np.log(1e7), 40))
    error = (a * n ** -b + c) * np.exp(rng.normal(0, 0.05, n.size))  # 5 % multiplicative noise
    fit = fit_power_law(n, error)
    assert fit is not None and fit.exponent == pytest.approx(b, abs=0.05)
    assert fit(1e5) == pytest.approx(a * 1e5 ** -b + c, rel=0.1)


def test_one_bad_trial_does_not_drag_the_fit():
    n = np.geomspace(1e3, 1e6, 20)
    error = 3.0 * n ** -0.5
    error[5] = 0.9  # a diverged trial
    assert fit_power_law(n, error).exponent == pytest.approx(0.5, abs=0.05)


def test_too_few_sizes_give_no_fit():
    sizes = [1e3, 1e3, 2e3, 4e3, 4e3, 8e3]  # 4 distinct sizes
    assert len(set(sizes)) < MIN_POINTS and fit_power_law(sizes, [0.2, 0.21, 0.15, 0.1, 0.11, 0.08]) is None


def test_legend_text_rounds():
    n = np.geomspace(1e3, 1e6, 12)
    fit = fit_power_law(n, 2.0 * n ** -0.4 + 0.01)
    text = fit.describe("N")
    assert text.startswith("error ≈ ") and "^-0.40" in text and len(text) < 45
