"""How every figure looks: one palette per family, one marker per compression kind, axis names
with units, rounded numbers, a light layout of our own (no plotly template: it would add ~7 KB
to each figure stored in the study).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Okabe-Ito: told apart with colour-blindness, and in grey print.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#7F7F7F", "#F0E442")
SYMBOLS = ("circle", "diamond", "square", "triangle-up", "x", "star", "cross", "pentagon", "hexagon",
           "triangle-down")
GRID, AXIS, TEXT = "#e6e6e6", "#9a9a9a", "#222222"
#: Figures are drawn for a half-width dashboard tile (~760 px) and the report's column.
WIDTH, HEIGHT = 760, 460

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


def kind_symbols(kinds: Sequence[str]) -> dict[str, str]:
    """``none`` (deployed as trained) is a circle; other kinds in sorted order."""
    ordered = sorted(set(kinds), key=lambda k: (k != "none", k))
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
        lines.append(f"stopped early after {point.epochs_run} epochs (accuracy at that rung)")
    elif not point.feasible:
        lines.append("violates a constraint")
    return "<br>".join(lines)


def axis(title: str, log: bool = False, kind: str = "linear", **extra: Any) -> dict[str, Any]:
    """An axis named with its unit; ``(log scale)`` is said when it is one."""
    return {"title": {"text": title + (" (log scale)" if log and title else "")}, "type": "log" if log else kind,
            "gridcolor": GRID, "linecolor": AXIS, "zeroline": False, "showline": True, "ticks": "outside",
            "tickcolor": AXIS, **({"dtick": 1} if log else {}), **extra}


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

