"""How well does validation accuracy after k epochs predict the final one? (choosing rungs)

Early stopping ranks trials by their accuracy at a rung, so a rung is only as good as that
accuracy's rank correlation with the accuracy at the end of training. This reads the per-epoch
validation curves (``ss.val_curve``) of the COMPLETE trials in one or more studies and prints,
for each epoch asked, Spearman's rank correlation with the final accuracy.

    python benchmarks/rung_correlation.py /tmp/es/db/b-0.db /tmp/es/db/c-0.db --at 1 3 9 18
    python benchmarks/rung_correlation.py postgresql://host/db --at 3 9
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path


def curves(storages: list[str]) -> list[list[float]]:
    """Full validation curves of the complete trials in every study of ``storages``."""
    import optuna

    from scalesearch.search.config.system_attrs import val_curve

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    out = []
    for url in storages:
        url = url if "://" in url else f"sqlite:///{url}"
        for summary in optuna.get_all_study_summaries(url):
            study = optuna.load_study(study_name=summary.study_name, storage=url)
            for trial in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE]):
                curve = val_curve(trial)
                if curve and trial.user_attrs.get("ss.epochs_run") == len(curve):
                    out.append([float(v) for v in curve])
    return out


def correlations(all_curves: list[list[float]], at: list[int]) -> list[tuple[int, float, int]]:
    """``(epoch, Spearman rho with the final accuracy, trials)`` for each epoch in ``at``, over
    the curves of one length (the most common one: trials with the same epoch budget)."""
    from collections import Counter

    from scipy.stats import spearmanr

    if not all_curves:
        return []
    length = Counter(len(c) for c in all_curves).most_common(1)[0][0]
    same = [c for c in all_curves if len(c) == length]
    rows = []
    for epoch in at:
        if 1 <= epoch <= length and len(same) > 2:
            rho = spearmanr([c[epoch - 1] for c in same], [c[-1] for c in same]).statistic
            rows.append((epoch, float(rho), len(same)))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("storages", nargs="+", help="study storages: SQLite files or storage URLs")
    p.add_argument("--at", type=int, nargs="+", default=[1, 2, 3, 6, 9, 18], help="epochs to check")
    args = p.parse_args(argv)
    missing = [s for s in args.storages if "://" not in s and not Path(s).is_file()]
    if missing:
        print(f"error: no such study file: {missing[0]} (give an SQLite file or a storage URL)", file=sys.stderr)
        return 2
    rows = correlations(curves(args.storages), args.at)
    if not rows:
        print("no complete trials with a full validation curve", file=sys.stderr)
        return 1
    print(f"| epoch | Spearman rho with the final accuracy ({rows[0][2]} complete trials) |")
    print("|---|---|")
    for epoch, rho, _ in rows:
        print(f"| {epoch} | {rho:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
