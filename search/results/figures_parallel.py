"""Parallel coordinates over the knobs that matter: one line per complete trial, from its
family, width and depth (read from the trial's config, so every family shares one axis, unlike
optuna-dashboard's own view, which keeps ``resnet.width_multiplier`` and
``convnext.width_multiplier`` apart and so leaves both out), through the training and compression
knobs the space searches, to its objectives; log-ranged knobs and costs on log axes. Lines are
coloured by the first maximised objective (accuracy); drag along an axis to filter.
"""

from __future__ import annotations

import math
from typing import Any

from scalesearch.search.config.metrics import direction
from scalesearch.search.results import figure_style as style
from scalesearch.search.results.study_view import StudyView, TrialPoint
from scalesearch.spaces.space import Choice, FloatRange, IntRange

#: Objective axis names short enough to sit side by side in a 700 px figure.
SHORT = {"accuracy": "accuracy", "latency_ms": "latency ms", "size_mb": "size MB", "params": "params",
         "flops": "FLOPs", "nonzero_params": "non-zero params", "robust_accuracy": "robust acc."}


def _stacked(label: str) -> str:
    """A label in lines of one word each (``weight<br>decay<br>(log)``): a dozen axes share 728 px."""
    return label.replace(" ", "<br>")


#: Room past the lowest and highest value, as a fraction of an axis's span: a tick at either end
#: would otherwise straddle the end, and the one at the bottom run into the axis title below it.
END_ROOM = 0.06


def _padded(values: list[float]) -> list[float]:
    lo, hi = min(values), max(values)
    room = (hi - lo) * END_ROOM or max(abs(lo) * 0.1, 0.5)
    return [lo - room, hi + room]


def _numeric(label: str, values: list[float], log: bool, metric: str = "") -> dict[str, Any]:
    if not log:
        return {"label": _stacked(label), "values": values, "range": _padded(values)}
    ticks = style.log_ticks(values, metric)
    logs = [math.log10(v) for v in values]
    ends = _padded(logs)  # unlabelled ticks there: plotly draws an axis only between its outer ticks
    return {"label": _stacked(label + " (log)"), "values": logs, "range": ends,
            "tickvals": [ends[0], *(math.log10(t) for t in ticks["tickvals"]), ends[1]],
            "ticktext": ["", *ticks["ticktext"], ""]}


def _categorical(label: str, values: list[Any]) -> dict[str, Any]:
    names = sorted({str(v) for v in values})
    return {"label": _stacked(label), "values": [names.index(str(v)) for v in values], "tickvals": list(range(len(names))),
            "ticktext": [style.UNCOMPRESSED if n == "none" and label == "quantization" else n for n in names],
            "range": [-0.3, len(names) - 0.7] if len(names) > 1 else [-1, 1]}


def _searched(view: StudyView) -> dict[str, Any]:
    """Training and compression knobs the space samples (not fixed): name -> its space entry."""
    knobs = {**view.spec.space.training, **(view.spec.space.compression or {})}
    return {k: p for k, p in knobs.items() if isinstance(p, Choice | FloatRange | IntRange)}


def dimensions(view: StudyView, points: list[TrialPoint]) -> list[dict[str, Any]]:
    """The parcoords axes, knobs first, objectives last."""
    dims: list[dict[str, Any]] = []
    if len({p.family for p in points}) > 1:
        dims.append(_categorical("family", [p.family for p in points]))
    for name, values in (("width", [p.width for p in points]), ("depth", [p.depth for p in points])):
        if all(v is not None for v in values) and len(set(values)) > 1:
            dims.append(_numeric(name, values, log=min(values) > 0 and max(values) / min(values) >= 3))
    for name, param in _searched(view).items():
        values = [p.params.get(name) for p in points]
        if any(v is None for v in values) or len({str(v) for v in values}) < 2:
            continue
        if isinstance(param, Choice) and not all(isinstance(v, int | float) for v in values):
            dims.append(_categorical(name, values))
        else:
            dims.append(_numeric(name.replace("_ratio", "").replace("_", " "), [float(v) for v in values], bool(getattr(param, "log", False))))
    for objective in view.objectives:
        values = [float(p.metrics[objective]) for p in points]
        log = direction(objective) == "minimize" and min(values) > 0
        dims.append(_numeric(SHORT.get(objective, objective.replace("_", " ")), values, log, objective))
    return dims


def parallel_figure(view: StudyView) -> dict[str, Any] | None:
    """The figure, or None with fewer than 3 complete trials (too few lines to read anything)."""
    points = [p for p in view.complete if view.values(p) is not None]
    if len(points) < 3:
        return None
    colour_by = next((o for o, d in zip(view.objectives, view.directions, strict=True) if d == "maximize"),
                     view.objectives[0])
    colours = [float(p.metrics[colour_by]) for p in points]
    line = {"color": colours, "colorscale": "Viridis", "showscale": True,
            "colorbar": {"title": {"text": style.label(colour_by).split(" (")[0], "side": "right"}, "thickness": 10,
                         "len": 0.8, "tickformat": ".2f" if "accuracy" in colour_by else ".3g"}}
    note = (f"{style.plural(len(points), 'complete trial')}, one line each, coloured by {style.label(colour_by)}; "
            "width and depth shared by every family; drag along an axis to keep a range.")
    head = style.layout("", note)
    return {"data": [{"type": "parcoords", "line": line, "dimensions": dimensions(view, points),
                      "labelside": "bottom", "labelfont": {"size": 11}, "tickfont": {"size": 10},
                      "rangefont": {"size": 1, "color": "rgba(0,0,0,0)"}}],
            "layout": style.layout("Parallel coordinates: knobs to objectives", note,
                                   margin=head["margin"] | {"l": 48, "r": 70, "t": head["margin"]["t"] + 14, "b": 64})}
