"""Rich tables for people: any rows, and a study's Pareto front as ``run`` shows it at the end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scalesearch.search.config.spec import StudySpec
from scalesearch.search.results.figure_style import plural
from scalesearch.search.results.reeval import stability_columns
from scalesearch.search.results.report import (
    complete_trials,
    doubted,
    fmt,
    left_off_lines,
    pareto_trials,
    trial_row,
)

LEFT = ("family", "study", "objectives", "compression")


def table(rows: list[dict[str, Any]], title: str, formats: dict[str, Callable[[Any], str]] | None = None) -> Any:
    """A ``rich.table.Table`` of ``rows`` (dicts with the same keys), values shown by ``fmt``."""
    from rich.table import Table

    out = Table(title=title, title_justify="left")
    for key in rows[0] if rows else []:
        out.add_column(key, justify="left" if key in LEFT else "right")
    for row in rows:
        out.add_row(*((formats or {}).get(k, lambda v, k=k: fmt(v, k))(v) for k, v in row.items()))
    return out


def front_table(study: Any, spec: StudySpec) -> Any:
    """The study's feasible Pareto front of useful models (:mod:`.useful`) as a table, its caption
    naming the front trials set aside as not useful and those left off for a doubted measurement
    (:func:`.report.left_off_lines`); None when no trial is complete yet, and a line saying why
    when complete trials exist but none is on the front (all infeasible or doubted)."""
    from scalesearch.search.results.useful import set_aside_text, split_useful, usefulness

    trials = [t for t in complete_trials(study) if t.values is not None]
    doubts = doubted(trials, spec)
    full = pareto_trials(trials, spec, doubts)
    if not full:
        return None if not trials else "\n".join([
            f"no trial on the front: none of the {plural(len(trials), 'complete trial')} is feasible and trusted",
            *left_off_lines(trials, spec, doubts)])
    front, aside = split_useful(full, spec)
    caption = set_aside_text(aside, usefulness(trials, spec))
    caption = caption and caption + " (export --trial N still exports it)"
    caption = "\n".join([*([caption] if caption else []), *left_off_lines(trials, spec, doubts)])
    keep = ("trial", "family", "width", "depth", "accuracy", "params", "latency_ms", *spec.objectives,
            *(("compression",) if spec.space.compression else ()))
    rows = [{k: v for k, v in trial_row(t).items() if k in keep} for t in front]
    seeds = stability_columns(study, front, spec)  # re-evaluated over seeds (export, stability, final_reeval)
    rows = [row | extra for row, extra in zip(rows, seeds, strict=True)] if seeds else rows
    out = table(rows, f"Pareto front of {spec.study_name} ({plural(len(front), 'trial')})")
    if caption:
        out.caption, out.caption_justify = caption, "left"
    return out
