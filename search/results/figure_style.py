"""How every figure looks: one palette per family, one marker per compression kind, axis names
with units, rounded numbers, a light layout of our own (no plotly template: it would add ~7 KB
to each figure stored in the study).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: Okabe-Ito: told apart with colour-blindness, and in grey print.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#7F7F7F", "#F0E442")
SYMBOLS = ("circle", "diamond", "square", "triangle-up", "x", "star", "cross", "pentagon", "hexagon",
           "triangle-down")
GRID, AXIS, TEXT = "#e6e6e6", "#9a9a9a", "#222222"
#: Figures are drawn for a half-width dashboard tile (~760 px) and the report's column; optuna-dashboard
#: draws every saved figure in a box 450 px high whatever the figure asks, so none is taller.
WIDTH, HEIGHT = 760, 450
#: The narrowest width a figure is drawn at: a half-width dashboard tile at 1600 px (728 px measured).
NARROWEST = 700

LABELS = {
    "accuracy": "validation accuracy",
    "params": "parameters",
    "flops": "FLOPs per image (forward)",
    "latency_ms": "latency (ms)",
    "size_mb": "model size (MB)",
    "nonzero_params": "non-zero parameters",
    "robust_accuracy": "robust accuracy (noise, blur, shift)",
    "accuracy_std": "accuracy std over seeds",
}


def label(metric: str) -> str:
    return LABELS.get(metric, metric.replace("_", " "))


def family_colours(families: Sequence[str]) -> dict[str, str]:
    return {f: PALETTE[i % len(PALETTE)] for i, f in enumerate(families)}


#: One word each, everywhere people read (CLI, notes, figures, report): Optuna's PRUNED state is
#: "stopped early" (early stopping), "pruned" is only structured compression (channels removed).
STOPPED = "stopped early"
UNCOMPRESSED = "uncompressed"


def plural(n: int, word: str) -> str:
    """``1 trial``, ``3 trials``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def kind_symbols(kinds: Sequence[str]) -> dict[str, str]:
    """``uncompressed`` (deployed as trained) is a circle; other kinds in sorted order."""
    ordered = sorted(set(kinds), key=lambda k: (k != UNCOMPRESSED, k))
    return {k: SYMBOLS[i % len(SYMBOLS)] for i, k in enumerate(ordered)}


def number(value: float | None, metric: str = "") -> str:
    """``21.1K`` params, ``0.9750`` accuracy, ``1.33`` ms: what a person reads."""
    if value is None:
        return "-"
    if metric in ("params", "flops", "nonzero_params"):
        for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
            if abs(value) >= scale:
                return f"{value / scale:.3g}{unit}"
        return f"{value:.0f}"
    if "accuracy" in metric:
        return f"{value:.4f}"
    return f"{value:.3g}"


def hover(point: Any, metrics: Sequence[str]) -> str:
    """A trial's hover text: its name, then its measured values, rounded."""
    lines = [point.label()]
    lines.append(" · ".join(f"{label(m).split(' (')[0]} {number(point.metrics[m], m)}"
                            for m in metrics if m in point.metrics))
    if point.stopped:
        lines.append(f"{STOPPED} after {point.epochs_run} epochs (accuracy at that rung)")
    elif not point.feasible:
        lines.append("violates a constraint")
    return "<br>".join(lines)


def axis(title: str, log: bool = False, kind: str = "linear", values: Sequence[float] = (), metric: str = "",
         **extra: Any) -> dict[str, Any]:
    """An axis named with its unit; ``(log scale)`` is said when it is one. A log axis over
    ``values`` gets its range and at least 3 labelled ticks (:func:`log_ticks`)."""
    ticks = log_ticks(values, metric) if log and values else {}
    # automargin + standoff: the title keeps clear of the tick labels when the note or the legend
    # leaves the plot little room (plotly otherwise squeezes the title onto the labels).
    return {"title": {"text": title + (" (log scale)" if log and title else ""), "standoff": 6},
            "type": "log" if log else kind, "automargin": True,
            "gridcolor": GRID, "linecolor": AXIS, "zeroline": False, "showline": True, "ticks": "outside",
            "tickcolor": AXIS, **ticks, **extra}


#: Tick mantissas per decade, sparsest first: the first set giving 3+ ticks on the range is used.
_MANTISSAS = ((1,), (1, 3), (1, 2, 5), (1, 1.5, 2, 3, 5, 7), (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9))


def log_ticks(values: Sequence[float], metric: str = "") -> dict[str, Any]:
    """``range`` (log10, padded 8 %) and 3-8 ``tickvals`` with rounded ``ticktext`` for a log axis
    over ``values`` (positive ones): plotly's own log ticks leave a range inside one decade with one
    label or none (0.18 and 0.40 MB under a single "1")."""
    positive = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    if not positive:
        return {}
    low, high = math.log10(min(positive)), math.log10(max(positive))
    pad = max(0.08 * (high - low), 0.04)
    low, high = low - pad, high + pad
    ticks: list[float] = []
    for mantissas in _MANTISSAS:
        ticks = [float(f"{m * 10.0 ** e:.3g}") for e in range(math.floor(low), math.ceil(high) + 1) for m in mantissas
                 if low <= math.log10(m * 10.0 ** e) <= high]
        if len(ticks) >= 3:
            break
    if len(ticks) < 3:  # a range narrower than 1 to 1.2: low, middle, high, rounded
        ticks = sorted({float(f"{10 ** (low + (high - low) * f):.2g}") for f in (0.15, 0.5, 0.85)})
    if len(ticks) > 8:
        ticks = ticks[:: math.ceil(len(ticks) / 8)]
    return {"range": [low, high], "tickvals": ticks, "ticktext": [tick_text(t, metric) for t in ticks]}


def tick_text(value: float, metric: str = "") -> str:
    """A tick label: ``20K``, ``0.18``, ``3``."""
    if metric in ("params", "flops", "nonzero_params") or value >= 1000:
        for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
            if value >= scale:
                return f"{value / scale:g}{unit}"
    return f"{value:g}"


def layout(title: str, note: str = "", height: int = HEIGHT, **extra: Any) -> dict[str, Any]:
    """Title with an optional grey second line (what the figure shows, how it was computed)."""
    lines = wrap(note, 118) if note else []
    text = f"<b>{title}</b>" + "".join(f"<br><span style='font-size:11px;color:#666'>{line}</span>" for line in lines)
    return {
        "template": {}, "title": {"text": text, "x": 0.01, "xanchor": "left", "y": 0.97, "yanchor": "top"},
        "font": {"family": "Helvetica, Arial, sans-serif", "size": 12, "color": TEXT},
        "paper_bgcolor": "white", "plot_bgcolor": "white", "height": height, "autosize": True,
        "margin": {"l": 64, "r": 16, "t": 60 + 16 * len(lines), "b": 56},
        "legend": {"bgcolor": "rgba(255,255,255,0.85)", "bordercolor": GRID, "borderwidth": 1,
                   "font": {"size": 11}},
        "hoverlabel": {"font": {"size": 11}, "align": "left"},
        **extra,
    }


def legend_below(names: Sequence[str], margin: dict[str, Any]) -> dict[str, Any]:
    """A horizontal legend at the bottom of the figure's own box (``yref: container``, so it is
    never pushed out of a 450 px box), and the bottom margin that leaves the x axis title above it,
    for ``names`` laid out in rows at the narrowest width the figure is drawn (:data:`NARROWEST`)."""
    rows, used = 1, 0
    for name in names:
        item = 44 + 6.6 * len(name)
        if used and used + item > NARROWEST - 20:
            rows, used = rows + 1, 0
        used += item
    box = {"bgcolor": "rgba(255,255,255,0.85)", "bordercolor": GRID, "borderwidth": 1, "font": {"size": 11},
           "orientation": "h", "x": 0, "xanchor": "left", "xref": "container", "y": 0.005, "yanchor": "bottom",
           "yref": "container"}
    return {"legend": box, "margin": margin | {"b": 58 + 21 * rows}}


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken at spaces."""
    import textwrap

    return textwrap.wrap(text, width) or [""]


def legend_only(name: str, group: str, marker: dict[str, Any], title: str | None = None) -> dict[str, Any]:
    """A trace drawn nowhere that explains a colour or a marker in the legend."""
    trace = {"type": "scatter", "x": [None], "y": [None], "mode": "markers", "name": name,
             "legendgroup": group, "marker": marker, "hoverinfo": "skip", "showlegend": True}
    if title:
        trace["legendgrouptitle"] = {"text": title}
    return trace


def compact(value: Any, digits: int = 6) -> Any:
    """``value`` with every float rounded to ``digits`` significant digits (0.9649152044148515 ->
    0.964915): what a figure shows loses nothing, and its JSON (stored in the study in 2 KB
    chunks, one storage write each) shrinks by about a third."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, list | tuple):
        return [compact(v, digits) for v in value]
    if isinstance(value, dict):
        return {k: compact(v, digits) for k, v in value.items()}
    return value

