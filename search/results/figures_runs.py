"""How the search went: the hypervolume as trials finish and as training epochs are spent, and
every trial's learning curve (stopped trials end at the rung where early stopping stopped them).
"""

from __future__ import annotations

from itertools import accumulate
from typing import Any

from scalesearch.search.results import figure_style as style
from scalesearch.search.results.hypervolume import REFERENCE, hypervolume_history
from scalesearch.search.results.study_view import StudyView, TrialPoint


def hypervolume_figure(view: StudyView) -> dict[str, Any]:
    """Two panels: hypervolume after each finished trial, and against epochs spent."""
    points = [view.values(p) if p.feasible else None for p in view.points]
    history = hypervolume_history(points, view.directions)
    trials = list(range(1, len(view.points) + 1))
    epochs = list(accumulate(p.epochs_run for p in view.points))
    colour = style.PALETTE[0]
    line = {"shape": "hv", "color": colour, "width": 2}
    traces = [
        {"type": "scatter", "mode": "lines", "x": trials, "y": history, "xaxis": "x", "yaxis": "y", "line": line,
         "hovertemplate": "after %{x} finished trials: hypervolume %{y:.3f}<extra></extra>", "showlegend": False},
        {"type": "scatter", "mode": "lines", "x": epochs, "y": history, "xaxis": "x2", "yaxis": "y2", "line": line,
         "hovertemplate": "after %{x:,} training epochs: hypervolume %{y:.3f}<extra></extra>", "showlegend": False},
    ]
    top = max(history, default=0.0)
    y_range = [0, min(1.0, top * 1.1) if top > 0 else 1.0]
    note = (f"objectives scaled to [0, 1] over all complete trials (costs on log10), reference point "
            f"{REFERENCE} in each; share of the reference box dominated. Now {top:.3f}.")
    return {"data": traces, "layout": style.layout(
        "Hypervolume of the Pareto front", note,
        xaxis=style.axis("trials finished", domain=[0, 0.46], anchor="y"),
        yaxis=style.axis("hypervolume (share of box)", range=y_range, anchor="x"),
        xaxis2=style.axis("training epochs spent", domain=[0.56, 1], anchor="y2"),
        yaxis2=style.axis("", range=y_range, anchor="x2", showticklabels=True),
    )}


def _curves(points: list[TrialPoint]) -> tuple[list[Any], list[Any], list[Any]]:
    """One polyline per trial, separated by gaps, with the trial number on every point."""
    xs: list[Any] = []
    ys: list[Any] = []
    numbers: list[Any] = []
    for p in points:
        xs += [*range(1, len(p.curve) + 1), None]
        ys += [*p.curve, None]
        numbers += [p.number] * len(p.curve) + [None]
    return xs, ys, numbers


def learning_curves_figure(view: StudyView) -> dict[str, Any]:
    """Validation accuracy after each epoch, one line per trial, coloured by family."""
    colours = style.family_colours(view.families)
    traces: list[dict[str, Any]] = []
    with_curves = [p for p in view.points if p.curve]
    for family in view.families:
        members = [p for p in with_curves if p.family == family]
        if not members:
            continue
        for stopped in (True, False):
            group = [p for p in members if p.stopped == stopped]
            if not group:
                continue
            xs, ys, numbers = _curves(group)
            state = "stopped early" if stopped else "complete"
            traces.append({
                "type": "scatter", "mode": "lines" if len(xs) > 2 * len(group) else "lines+markers",  # 1 epoch: a dot
                "x": xs, "y": ys, "customdata": numbers, "marker": {"size": 5},
                "name": family, "legendgroup": family, "showlegend": not stopped or not any(
                    not p.stopped for p in members),
                "line": {"color": colours[family], "width": 1 if stopped else 1.4},
                "opacity": 0.35 if stopped else 0.75, "connectgaps": False,
                "hovertemplate": f"trial %{{customdata}} ({family}, {state})<br>epoch %{{x}}: accuracy %{{y:.4f}}"
                                 "<extra></extra>",
            })
            if stopped:
                traces.append({
                    "type": "scatter", "mode": "markers", "x": [len(p.curve) for p in group],
                    "y": [p.curve[-1] for p in group], "legendgroup": family, "showlegend": False,
                    "marker": {"symbol": "x-thin", "size": 7, "line": {"width": 1.5, "color": colours[family]}},
                    "text": [f"{p.label()}<br>stopped after epoch {len(p.curve)}: {p.reason}" for p in group],
                    "hovertemplate": "%{text}<extra></extra>",
                })
    accuracies = [a for p in with_curves for a in p.curve]
    low = min(accuracies, default=0.0)
    shapes = [{"type": "line", "x0": r, "x1": r, "yref": "paper", "y0": 0, "y1": 1,
               "line": {"color": style.AXIS, "width": 1, "dash": "dot"}} for r in view.rungs]
    notes = [{"x": r, "y": 1, "yref": "paper", "yanchor": "bottom", "text": f"rung {r}", "showarrow": False,
              "font": {"size": 10, "color": "#666"}} for r in view.rungs]
    n_stop = sum(p.stopped for p in with_curves)
    note = f"{len(with_curves) - n_stop} complete (solid)" + (
        f", {n_stop} stopped early (faint, ending in ×); dotted lines: early-stopping rungs" if n_stop else "")
    return {"data": traces, "layout": style.layout(
        "Learning curves", note, shapes=shapes, annotations=notes,
        xaxis=style.axis("epoch", rangemode="tozero", dtick=max(1, -(-max((len(p.curve) for p in with_curves),
                                                                         default=1) // 10))),
        yaxis=style.axis("validation accuracy", range=[max(0.0, low - 0.02), 1.0]),
    )}
