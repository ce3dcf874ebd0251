"""Where pruned models stand against unpruned ones of the same size, in one line.

A pruned trial is judged against the best trial that was *not* pruned and has at most its
parameters (its same-size rival trained from scratch, narrower): pruning earns its place only
where the pruned model is more accurate than that rival. One line per study, grouped by pruning
ratio, e.g.::

    Pruned vs unpruned of at most the same params: ratio 0.25: 1 of 3 ahead (mean -0.6 pt);
    ratio 0.5: 0 of 2 ahead (mean -12.1 pt).

Reads a :class:`~scalesearch.search.results.study_view.StudyView`'s points; complete, feasible
trials only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PrunedComparison:
    pruned: Any  # TrialPoint
    ratio: float | None  # the trial's pruning ratio (None when the space fixed it)
    rival: Any | None  # the best unpruned TrialPoint of at most its params; None: none that small

    @property
    def gap(self) -> float | None:
        """Pruned accuracy minus its rival's (None without a rival)."""
        if self.rival is None:
            return None
        return self.pruned.metrics["accuracy"] - self.rival.metrics["accuracy"]


def _is_pruned(point: Any) -> bool:
    return "pruned" in point.kind.split(" + ")


def compare_pruned(points: Sequence[Any], accuracy: str = "accuracy", cost: str = "params") -> list[PrunedComparison]:
    """Each complete, feasible pruned trial with its same-size unpruned rival, smallest first."""
    usable = [p for p in points if not p.stopped and p.feasible and accuracy in p.metrics and cost in p.metrics]
    unpruned = [p for p in usable if not _is_pruned(p)]
    out = []
    for p in sorted((p for p in usable if _is_pruned(p)), key=lambda p: p.metrics[cost]):
        rivals = [u for u in unpruned if u.metrics[cost] <= p.metrics[cost]]
        rival = max(rivals, key=lambda u: (u.metrics[accuracy], -u.metrics[cost])) if rivals else None
        ratio = p.params.get("pruning_ratio")
        out.append(PrunedComparison(p, float(ratio) if ratio is not None else None, rival))
    return out


def pruning_verdict_line(points: Sequence[Any]) -> str | None:
    """One line saying, per pruning ratio, how many pruned models beat their same-size unpruned
    rival and by how much on average; None when the study has no complete pruned trial."""
    comparisons = compare_pruned(points)
    if not comparisons:
        return None
    groups: dict[float | None, list[PrunedComparison]] = {}
    for c in comparisons:
        groups.setdefault(c.ratio, []).append(c)
    parts = []
    for ratio in sorted(groups, key=lambda r: (r is None, r or 0.0)):
        group = groups[ratio]
        gaps = [c.gap for c in group if c.gap is not None]
        name = f"ratio {ratio:.2g}" if ratio is not None else "pruned"
        ahead = sum(1 for g in gaps if g > 0)
        text = f"{name}: {ahead} of {len(group)} ahead"
        if gaps:
            text += f" (mean {100 * sum(gaps) / len(gaps):+.1f} pt)"
        unmatched = len(group) - len(gaps)
        if unmatched:
            text += f", {unmatched} smaller than every unpruned model"
        parts.append(text)
    return "Pruned vs the best unpruned model of at most the same params: " + "; ".join(parts) + "."
