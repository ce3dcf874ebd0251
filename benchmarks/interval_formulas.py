"""Which test-interval formula covers what ``train`` really reports? Post hoc, on retrained picks.

Reads every retrained pick of ``benchmarks/pick_evidence.py`` (``--pick-dir``: its
``seed<S>.json``) and of ``benchmarks/small_models.py`` (``--small-dir``: ``seed<S>/small.yaml``
with ``small_model/model.yaml``), each export's ``uncertainty`` (the accuracies of its
re-evaluations, the pooled seed std and its degrees of freedom, the split sizes) and the test
accuracy ``train`` measured, and states three 95 % test intervals for each:

- ``wilson-twice``: the formula ``export`` uses (``search/results/uncertainty.py``): Wilson's
  interval at the effective size ``p(1-p)/V``, ``V = s²(1 + 1/m) + p(1-p)(1/n_val + 1/n_test)``;
- ``t-twice``: the same ``V``, as ``p ± t sqrt(V)`` (symmetric, Student's t at Welch-Satterthwaite);
- ``t-once``: ``p ± t sqrt(V)`` with the validation noise counted once, as it should be for
  re-evaluations on fresh partitions whose spread already holds it:
  ``V = s²/m + max(0, s² - p(1-p)/n_val) + p(1-p)/n_test``.

In a simulation where the estimate is unbiased ``t-once`` covers at its level and is the
narrowest; the point here is whether real picks are unbiased. Prints one row per pick and the
coverage and mean width of each formula, with the mean of test - estimate.

    PYTHONPATH=.. python benchmarks/interval_formulas.py --pick-dir /tmp/pick --small-dir /tmp/after
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import statistics
from pathlib import Path
from typing import Any

CONFIDENCE = 0.95


def _dof(variance: float, seed_term: float, nu: float) -> float:
    return variance ** 2 / (seed_term ** 2 / nu) if seed_term > 0 and math.isfinite(nu) else math.inf


def intervals(u: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """The three formulas' test intervals for one export's ``uncertainty``."""
    from scalesearch.search.results.uncertainty import (
        Pooled,
        _binomial_variance,
        estimate,
        quantile,
    )

    accs = u["accuracies"]
    m, p = len(accs), statistics.fmean(accs)
    std, nu = u.get("seed_std"), float(u.get("seed_std_dof") or math.inf)
    n_val, n_test = u["val_samples"], u["test_samples"]
    pooled = Pooled(std, int(nu), 0) if std is not None and math.isfinite(nu) else None
    out = {"wilson-twice": estimate(accs, n_val, n_test, pooled=pooled, confidence=CONFIDENCE).test}
    s2, pq = (std or 0.0) ** 2, _binomial_variance(p, n_val, CONFIDENCE)
    twice_seed = s2 * (1 + 1 / m)
    twice = twice_seed + pq * (1 / n_val + 1 / n_test)
    once_seed = s2 / m + max(0.0, s2 - pq / n_val)
    once = once_seed + pq / n_test
    for name, variance, seed_term in (("t-twice", twice, twice_seed), ("t-once", once, once_seed)):
        half = quantile(CONFIDENCE, _dof(variance, seed_term, nu)) * math.sqrt(variance)
        out[name] = (max(0.0, p - half), min(1.0, p + half))
    return out


def picks(pick_dir: Path | None, small_dir: Path | None) -> list[tuple[int, str, dict[str, Any], float]]:
    """``(seed, arm, uncertainty, test accuracy)`` of every retrained pick found."""
    import yaml

    rows: list[tuple[int, str, dict[str, Any], float]] = []
    for path in sorted(glob.glob(str(pick_dir / "seed*.json"))) if pick_dir else []:
        for seed, run in json.loads(Path(path).read_text())["runs"].items():
            for arm, pick in run["picks"].items():
                if (retrained := run["retrains"].get(str(pick["trial"]))) is not None:
                    rows.append((int(seed), arm, pick["export"]["uncertainty"], retrained["test_accuracy"]))
    for folder in sorted(small_dir.glob("seed*")) if small_dir else []:
        seed, model = int(folder.name[4:]), folder / "small_model" / "model.yaml"
        if any(r[:2] == (seed, "small") for r in rows) or not model.exists():
            continue
        u = yaml.safe_load((folder / "small.yaml").read_text())["uncertainty"]
        rows.append((seed, "small", u, yaml.safe_load(model.read_text())["retrain"]["test_accuracy"]))
    return sorted(rows, key=lambda r: (r[0], r[1]))


def table(rows: list[tuple[int, str, dict[str, Any], float]]) -> str:
    names = ("wilson-twice", "t-twice", "t-once")
    lines = ["| seed | pick | estimate (seeds) | test | " + " | ".join(names) + " |", "|---|---|---|---|---|---|---|"]
    inside = {k: 0 for k in names}
    widths: dict[str, list[float]] = {k: [] for k in names}
    for seed, arm, u, test in rows:
        cells = []
        for name, (low, high) in intervals(u).items():
            inside[name] += low <= test <= high
            widths[name].append(high - low)
            cells.append(f"[{low:.4f}, {high:.4f}] {'in' if low <= test <= high else 'out'}")
        lines.append(f"| {seed} | {arm} | {u['accuracy']:.4f} ({len(u['accuracies'])}) | {test:.4f} | "
                     + " | ".join(cells) + " |")
    n = len(rows)
    gaps = [test - u["accuracy"] for _, _, u, test in rows]
    se = statistics.stdev(gaps) / math.sqrt(n) if n > 1 else math.nan
    lines += ["", "coverage: " + ", ".join(f"{k} {inside[k]}/{n} (mean width {statistics.fmean(widths[k]):.4f})"
                                         for k in names),
              f"test - estimate: {statistics.fmean(gaps):+.4f} (SE {se:.4f}) over {n} picks"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pick-dir", type=Path, help="pick_evidence.py's --workdir")
    parser.add_argument("--small-dir", type=Path, help="small_models.py's --workdir")
    args = parser.parse_args()
    rows = picks(args.pick_dir, args.small_dir)
    if not rows:
        raise SystemExit("no retrained picks found: give --pick-dir and/or --small-dir")
    print(table(rows))


if __name__ == "__main__":
    main()
