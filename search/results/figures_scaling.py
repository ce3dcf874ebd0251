"""From parameters to performance: error against params and against FLOPs per family with a
fitted saturating power law, and which knobs matter for each objective.
"""

from __future__ import annotations

import math
from typing import Any

from scalesearch.search.results import figure_style as style
from scalesearch.search.results.importance import ALL, COSTS, MIN_TRIALS, RESAMPLES, importances
from scalesearch.search.results.power_law import MIN_POINTS, PowerLaw, fit_power_law
from scalesearch.search.results.pruning_verdict import pruning_verdict_line
from scalesearch.search.results.study_view import StudyView, TrialPoint

SIZES = (("params", "N"), ("flops", "F"))


def _fit_trace(fit: PowerLaw, sizes: list[float], family: str, colour: str, symbol: str,
               axes: tuple[str, str]) -> dict[str, Any]:
    low, high = math.log10(min(sizes)), math.log10(max(sizes))
    grid = [10 ** (low + (high - low) * i / 40) for i in range(41)]
    return {"type": "scatter", "mode": "lines", "x": grid, "y": [fit(n) for n in grid], "xaxis": axes[0],
            "yaxis": axes[1], "name": f"{family}: {symbol}^-{fit.exponent:.2f}", "legendgroup": family,
            "line": {"color": colour, "width": 2, "dash": "solid" if symbol == "N" else "dash"},
            "hovertemplate": f"{family}: {fit.describe(symbol)}<br>fitted to {fit.points} trials<extra></extra>"}


def scaling_figure(view: StudyView) -> dict[str, Any]:
    """Two panels (params, FLOPs); points are complete trials, curves the fits per family."""
    colours = style.family_colours(view.families)
    traces: list[dict[str, Any]] = []
    errors = [1 - p.metrics["accuracy"] for p in view.complete if "accuracy" in p.metrics]
    dropped = sum(e <= 0 for e in errors)
    drawn: dict[str, list[float]] = {"params": [], "flops": [], "error": []}
    for i, (metric, symbol) in enumerate(SIZES):
        axes = ("x" if i == 0 else "x2", "y" if i == 0 else "y2")
        for family in view.families:
            members = [p for p in view.complete if p.family == family and metric in p.metrics
                       and 1 - p.metrics.get("accuracy", 1.0) > 0]
            if not members:
                continue
            useful = [p for p in members if view.useful(p)]  # axis ranges over useful models (useful.py)
            drawn[metric] += [p.metrics[metric] for p in useful]
            drawn["error"] += [1 - p.metrics["accuracy"] for p in useful]
            fitted = [p for p in members if p.kind == style.UNCOMPRESSED]
            traces.append(_points(members, metric, family, colours[family], axes, legend=i == 0))
            fit = fit_power_law([p.metrics[metric] for p in fitted], [1 - p.metrics["accuracy"] for p in fitted])
            if fit is not None:
                traces.append(_fit_trace(fit, [p.metrics[metric] for p in fitted], family, colours[family], symbol, axes))
                drawn["error"] += [fit(p.metrics[metric]) for p in fitted]
            elif i == 0:
                sizes = len({p.metrics[metric] for p in fitted})
                traces.append(style.legend_only(f"{family}: no fit ({style.plural(sizes, 'size')} < {MIN_POINTS})",
                                                family, {"color": colours[family], "size": 1, "opacity": 0}))
    compressed = any(p.kind != style.UNCOMPRESSED for p in view.complete)
    note = ("curves: error = a·N^(-b) + c fitted per family (robust, on log error), exponent b in the legend"
            + ("; compressed trials (hollow) not fitted" if compressed else "")
            + (f"; {style.plural(dropped, 'trial')} with zero error not drawn" if dropped else ""))
    axes = {"xaxis": style.axis("parameters (N)", True, domain=[0, 0.46], anchor="y", values=drawn["params"],
                                metric="params"),
            "yaxis": style.axis("validation error (1 - accuracy)", True, anchor="x", values=drawn["error"]),
            "xaxis2": style.axis("FLOPs per image (F)", True, domain=[0.56, 1], anchor="y2", values=drawn["flops"],
                                 metric="flops"),
            "yaxis2": style.axis("", True, anchor="x2", matches="y", values=drawn["error"])}
    off = _count_on_axes(traces, axes)  # legend counts what is drawn; the note says what is not
    if off:
        below = f" (below accuracy {view.floor:.2f}, no useful model)" if view.floor is not None else ""
        note += f"; {style.plural(off, 'trial')} off the axes{below}"
    verdict = pruning_verdict_line(view.complete)  # issue 25's same-size comparison, when there are pruned trials
    if verdict:
        note += ". " + verdict
    head = style.layout("", note)
    names = [t["name"] for t in traces if t.get("showlegend", True) and t.get("name")]
    return {"data": traces, "layout": style.layout(
        "Scaling: validation error against model size", note, **axes, **style.legend_below(names, head["margin"]),
    )}


def _count_on_axes(traces: list[dict[str, Any]], axes: dict[str, Any]) -> int:
    """Name each family's points in the legend by how many lie inside the params panel's ranges
    (log axes: ranges in log10); return how many fall outside them."""
    x_range, y_range = axes["xaxis"].get("range"), axes["yaxis"].get("range")
    off = 0
    for trace in traces:
        if trace.get("mode") != "markers" or trace.get("xaxis") != "x" or not x_range or not y_range:
            continue
        inside = sum(x_range[0] <= math.log10(x) <= x_range[1] and y_range[0] <= math.log10(y) <= y_range[1]
                     for x, y in zip(trace["x"], trace["y"], strict=True))
        off += len(trace["x"]) - inside
        trace["name"] = f"{trace['legendgroup']} ({style.plural(inside, 'trial')})"
    return off


def _points(members: list[TrialPoint], metric: str, family: str, colour: str, axes: tuple[str, str],
            legend: bool) -> dict[str, Any]:
    return {"type": "scatter", "mode": "markers", "xaxis": axes[0], "yaxis": axes[1],
            "x": [p.metrics[metric] for p in members], "y": [1 - p.metrics["accuracy"] for p in members],
            "name": f"{family} ({style.plural(len(members), 'trial')})", "legendgroup": family, "showlegend": legend,
            "marker": {"color": colour, "size": 6, "opacity": 0.7,
                       "symbol": ["circle" if p.kind == style.UNCOMPRESSED else "circle-open" for p in members]},
            "text": [style.hover(p, ("accuracy", metric)) for p in members],
            "hovertemplate": "%{text}<extra></extra>"}


def importance_figure(view: StudyView) -> dict[str, Any] | None:
    """Horizontal bars per objective: the share of the objective's variance each knob explains on
    its own, per group, with its spread over re-fits as whiskers; one knob list for every panel, a
    row per knob at the same height in each (named on the left, "not ranked" where a knob cannot
    move that objective); None when no group has enough trials to rank knobs."""
    scores, skipped = importances(view)
    if not scores:
        return None
    colours = style.family_colours(view.families) | {ALL: "#555555"}
    objectives = [o for o in view.objectives if any(s.objective == o for s in scores)]
    knobs = sorted({s.knob for s in scores}, key=lambda k: max(s.value for s in scores if s.knob == k))
    rows = {knob: i for i, knob in enumerate(knobs)}  # numeric rows, so every panel spaces all knobs alike
    domains = [[i / len(objectives) + 0.035, (i + 1) / len(objectives) - 0.035] for i in range(len(objectives))]
    traces: list[dict[str, Any]] = []
    groups = [g for g in [ALL, *view.families] if any(s.group == g for s in scores)]
    for group in groups:
        trials = next(s.trials for s in scores if s.group == group)
        for i, objective in enumerate(objectives):
            mine = {s.knob: s for s in scores if s.group == group and s.objective == objective}
            shown = [k for k in knobs if k in mine]
            traces.append({
                "type": "bar", "orientation": "h", "x": [mine[k].value for k in shown], "y": [rows[k] for k in shown],
                "error_x": {"type": "data", "array": [mine[k].spread for k in shown], "color": "#444",
                            "thickness": 1, "width": 2},
                "customdata": [[mine[k].spread, k] for k in shown], "textposition": "none",
                "xaxis": "x" if i == 0 else f"x{i + 1}", "yaxis": "y" if i == 0 else f"y{i + 1}",
                "name": f"{group} ({style.plural(trials, 'trial')})", "legendgroup": group, "showlegend": i == 0,
                "marker": {"color": colours[group]},
                "hovertemplate": f"{group}: %{{customdata[1]}} alone explains %{{x:.0%}} ± %{{customdata[0]:.0%}} "
                                 f"of {objective}'s variance<extra></extra>",
            })
    axes: dict[str, Any] = {}
    annotations: list[dict[str, Any]] = []
    for i, objective in enumerate(objectives):
        suffix = "" if i == 0 else str(i + 1)
        axes[f"xaxis{suffix}"] = style.axis(style.label(objective).split(" (")[0], domain=domains[i],
                                            range=[0, 1], tickformat=".0%", anchor=f"y{suffix}", nticks=4)
        axes[f"yaxis{suffix}"] = style.axis("", anchor=f"x{suffix}", tickvals=list(range(len(knobs))), ticktext=knobs,
                                            range=[-0.5, len(knobs) - 0.5], showticklabels=i == 0, ticks="")
        ranked = {s.knob for s in scores if s.objective == objective}
        annotations += [{"text": "not ranked", "x": 0.02, "y": rows[k], "xref": f"x{suffix}", "yref": f"y{suffix}",
                         "xanchor": "left", "showarrow": False, "bgcolor": "white", "font": {"size": 10, "color": "#999"}}
                        for k in knobs if k not in ranked]
    costs = [o for o in objectives if o in COSTS]
    note = ("bars: share of an objective's variance a knob explains on its own (one-way ε², costs on log10;"
            f" shares need not add up to 100 %); whiskers: ± std over {RESAMPLES} bootstrap re-fits; all trials:"
            " width and depth as each family's multiplier"
            + (f"; training knobs not ranked for {', '.join(costs)} (they cannot change it)" if costs else ""))
    if skipped:
        note += f"; skipped (< {MIN_TRIALS} trials): " + ", ".join(s.split(":")[0] for s in skipped)
    head = style.layout("", note)
    return {"data": traces, "layout": style.layout(
        "Knob importance per objective", note, barmode="group", bargap=0.25, annotations=annotations, **axes,
        **style.legend_below([t["name"] for t in traces if t["showlegend"]], head["margin"]),
    )}
