"""The Pareto front figure: every finished trial in objective space, coloured by family, marked
by compression, early-stopped trials faint at their last rung, the front outlined.

Two objectives: one panel, the front drawn as its staircase. More: one panel per pair (the
maximised objective, e.g. accuracy, against each other one; all pairs when none is maximised),
the points of the full N-D front outlined in every panel.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

from scalesearch.search.config.metrics import direction
from scalesearch.search.results import figure_style as style
from scalesearch.search.results.study_view import StudyView, TrialPoint


def panels(view: StudyView) -> list[tuple[str, str]]:
    """(x metric, y metric) per panel. One objective is drawn against params (or accuracy)."""
    if len(view.objectives) == 1:
        (only,) = view.objectives
        return [("params", only)] if only != "params" else [("params", "accuracy")]
    maximized = [o for o, d in zip(view.objectives, view.directions, strict=True) if d == "maximize"]
    if maximized:
        y = maximized[0]
        return [(x, y) for x in view.objectives if x != y]
    return list(combinations(view.objectives, 2))


def _domains(n: int, gap: float = 0.1) -> list[list[float]]:
    width = (1 - gap * (n - 1)) / n
    return [[i * (width + gap), i * (width + gap) + width] for i in range(n)]


def _points_trace(points: list[TrialPoint], x: str, y: str, view: StudyView, front: set[int],
                  colour: str, symbols: dict[str, str], axes: tuple[str, str]) -> dict[str, Any]:
    drawn = [p for p in points if x in p.metrics and y in p.metrics]
    return {
        "type": "scatter", "mode": "markers", "xaxis": axes[0], "yaxis": axes[1],
        "x": [p.metrics[x] for p in drawn], "y": [p.metrics[y] for p in drawn],
        "text": [style.hover(p, view.objectives) for p in drawn], "hovertemplate": "%{text}<extra></extra>",
        "legendgroup": drawn[0].family if drawn else "", "showlegend": False,
        "marker": {
            "color": colour,
            "symbol": [symbols[p.kind] + ("" if p.feasible or p.stopped else "-open") for p in drawn],
            "size": [11 if p.number in front else 5 if p.stopped else 7 for p in drawn],
            "opacity": [1.0 if p.number in front else 0.22 if p.stopped else 0.6 for p in drawn],
            "line": {"width": [1.5 if p.number in front else 0 for p in drawn], "color": style.TEXT},
        },
    }


def _staircase(front: list[TrialPoint], x: str, y: str, axes: tuple[str, str], view: StudyView) -> dict[str, Any]:
    """The region the front dominates, as a step line (2-D fronts only)."""
    ordered = sorted(front, key=lambda p: (p.metrics[x], p.metrics[y]))
    y_up = direction(y) == "maximize"
    return {"type": "scatter", "mode": "lines", "xaxis": axes[0], "yaxis": axes[1], "name": "Pareto front",
            "x": [p.metrics[x] for p in ordered], "y": [p.metrics[y] for p in ordered],
            "line": {"color": style.TEXT, "width": 1.2, "shape": "hv" if y_up else "vh"},
            "hoverinfo": "skip", "legendgroup": "front"}


def pareto_figure(view: StudyView) -> dict[str, Any]:
    """The figure as plotly's plain-data form (``go.Figure(result)`` draws it)."""
    pairs = panels(view)
    front_points = view.front()
    front = {p.number for p in front_points}
    colours = style.family_colours(view.families)
    symbols = style.kind_symbols([p.kind for p in view.points] or [style.UNCOMPRESSED])
    knee = next((p for p in front_points if p.number == view.knee), None)
    marks: list[dict[str, Any]] = []
    traces: list[dict[str, Any]] = []
    layout_axes: dict[str, Any] = {}
    domains = _domains(len(pairs))
    for i, (x, y) in enumerate(pairs):
        axes = ("x" if i == 0 else f"x{i + 1}", "y" if i == 0 else f"y{i + 1}")
        for family in view.families:
            members = [p for p in view.points if p.family == family]
            stopped = [p for p in members if p.stopped]
            complete = [p for p in members if not p.stopped]
            for group in (stopped, complete):  # stopped first, so complete trials draw on top
                if group:
                    traces.append(_points_trace(group, x, y, view, front, colours[family], symbols, axes))
        if len(view.objectives) == 2 and front_points:
            traces.append(_staircase(front_points, x, y, axes, view) | {"showlegend": True})
        # Axis ranges over the useful models (search/results/useful.py): a tiny, barely-learned
        # trial does not stretch them; it is drawn only when it falls inside.
        xs = [p.metrics[x] for p in view.points if x in p.metrics and view.useful(p)]
        ys = [p.metrics[y] for p in view.points if y in p.metrics and view.useful(p)]
        x_log, y_log = cost_axis(xs, x), cost_axis(ys, y)
        suffix = "" if i == 0 else str(i + 1)
        layout_axes[f"xaxis{suffix}"] = style.axis(style.label(x), x_log, domain=domains[i], anchor=axes[1],
                                                   values=xs, metric=x, **linear_range(xs, x_log))
        layout_axes[f"yaxis{suffix}"] = style.axis(style.label(y) if i == 0 or y != pairs[0][1] else "", y_log,
                                                   anchor=axes[0], values=ys, metric=y, **linear_range(ys, y_log))
        if knee is not None and x in knee.metrics and y in knee.metrics:
            low = ys and knee.metrics[y] < (min(ys) + max(ys)) / 2  # in the lower half: label above it
            marks.append(knee_mark(knee.metrics[x], knee.metrics[y], axes, x_log, y_log, knee.number, above=bool(low)))
    traces += _legend(view, colours, symbols)
    n_front, n_done, n_stop = len(front_points), len(view.complete), len(view.stopped)
    shape = "staircase" if len(view.objectives) == 2 else f"{len(view.objectives)}-D front, outlined in each view"
    stopped = f", {n_stop} {style.STOPPED} (faint, at their last rung)" if n_stop else ""
    knee_text = f"; knee: trial {view.knee} (what export --pick knee takes)" if knee is not None else ""
    aside = len(view.set_aside)
    aside_text = (f"; {style.plural(aside, 'trial')} below accuracy {view.floor:.2f} set aside (no useful model, off "
                  "the axes)" if aside and view.floor is not None else "")
    note = (f"{n_done} complete{stopped}; {n_front} Pareto-optimal (outlined, {shape}){knee_text}{aside_text}. "
            "Hover a point for its trial.")
    names = " vs ".join(style.label(o).split(" (")[0] for o in view.objectives)
    # Below the panels, never over a point (the front's best point can sit in any corner).
    extra = style.legend_below([t["name"] for t in traces if t.get("showlegend")], style.layout("", note)["margin"])
    return {"data": traces, "layout": style.layout(f"Pareto front: {names}", note, **layout_axes, annotations=marks,
                                                   **extra)}


def linear_range(values: list[float], log: bool, pad: float = 0.05) -> dict[str, Any]:
    """A linear axis's range over ``values``, padded by ``pad`` of their span (log axes: none here)."""
    if log or not values:
        return {}
    low, high = min(values), max(values)
    margin = pad * (high - low) or pad * (abs(high) or 1.0)
    return {"range": [low - margin, high + margin]}


def cost_axis(values: list[float], metric: str) -> bool:
    """A cost (minimised, positive) is drawn on a log axis, however narrow its range: the reader
    compares ratios (half the latency), and every figure draws it the same way."""
    return direction(metric) == "minimize" and bool(values) and min(values) > 0


def knee_mark(x: float, y: float, axes: tuple[str, str], x_log: bool, y_log: bool, number: int,
              above: bool = False) -> dict[str, Any]:
    """An arrow naming the knee at its point (annotations on log axes take log10 positions), its
    label above the point when ``above`` (a point low in the panel), else below."""
    return {"x": math.log10(x) if x_log else x, "y": math.log10(y) if y_log else y, "xref": axes[0], "yref": axes[1],
            "text": f"knee (trial {number})", "showarrow": True, "arrowhead": 2, "arrowsize": 0.8, "arrowwidth": 1,
            "arrowcolor": style.TEXT, "ax": 30, "ay": -34 if above else 34, "font": {"size": 11}, "bgcolor": "rgba(255,255,255,0.8)"}


def _legend(view: StudyView, colours: dict[str, str], symbols: dict[str, str]) -> list[dict[str, Any]]:
    present = {p.family for p in view.points}
    out = [style.legend_only(f, f, {"color": colours[f], "size": 9, "symbol": "circle"})
           for f in view.families if f in present]
    if len(symbols) > 1:
        out += [style.legend_only(kind, f"kind:{kind}", {"color": "#777", "size": 9, "symbol": symbol})
                for kind, symbol in symbols.items()]
    if view.stopped:
        out.append(style.legend_only(style.STOPPED, "stopped", {"color": "#777", "size": 6, "opacity": 0.3}))
    return out
