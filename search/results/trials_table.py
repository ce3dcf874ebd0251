"""Every trial of a study as one table, for the HTML report (sortable) and as CSV beside it: its
state in scalesearch's words, config, measured values and why it stopped or failed.

    rows = trial_rows(study)                  # one dict per trial, exact values
    write_csv(rows, "report/trials.csv")
    html = trials_html(rows)                  # <table> with sortable columns, a row id per trial
"""

from __future__ import annotations

import csv
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scalesearch.search.config import attrs
from scalesearch.search.config.system_attrs import exact_metrics
from scalesearch.search.results import figure_style as style
from scalesearch.search.results.report import STATE_WORDS, trial_row

CSV_NAME = "trials.csv"
#: (row key, header); the metrics are read exact (not as rounded for display).
COLUMNS = (("trial", "trial"), ("state", "state"), ("family", "family"), ("width", "width"), ("depth", "depth"),
           ("compression", "compression"), ("accuracy", "accuracy"), ("params", "params"), ("flops", "FLOPs"),
           ("latency_ms", "latency (ms)"), ("size_mb", "size (MB)"), ("epochs_run", "epochs"),
           ("reason", "why it stopped or failed"))
TEXT = ("state", "family", "compression", "reason")
#: Cells kept on one line at 1600 px ("12 (knee)", "stopped early", "prune 0.3 + int8_dynamic"): only the reason wraps.
ONE_LINE = ("trial", "state", "family", "compression")


def trial_rows(trials: Sequence[Any]) -> list[dict[str, Any]]:
    """One row per trial (every state), in trial order."""
    rows = []
    for trial in sorted(trials, key=lambda t: t.number):
        row = trial_row(trial)
        metrics = exact_metrics(trial)
        row |= {k: metrics.get(k, row.get(k)) for k in ("accuracy", "params", "flops", "latency_ms", "size_mb")}
        if trial.state.name == "PRUNED" and row["accuracy"] is None:  # accuracy at the rung it stopped at
            rung = trial.user_attrs.get(attrs.RUNG_REACHED)
            row["accuracy"] = trial.user_attrs.get(attrs.rung_key(rung)) if rung is not None else None
        row["state"] = STATE_WORDS.get(trial.state.name, trial.state.name.lower())
        row["epochs_run"] = metrics.get("epochs_run", trial.user_attrs.get("ss.epochs_run"))
        row["reason"] = (trial.user_attrs.get(attrs.PRUNE_REASON) or trial.user_attrs.get(attrs.FAIL_REASON) or ""
                         ) if trial.state.name != "COMPLETE" else ""
        row["family"] = None if row["family"] == "?" else row["family"]  # a trial not yet sampled
        rows.append({key: row.get(key) for key, _ in COLUMNS})
    return rows


def write_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """``rows`` as CSV (header = the row keys), exact values, empty for none."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=[key for key, _ in COLUMNS])
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return path


def _shown(value: Any, key: str) -> str:
    if value is None or value == "":
        return "-" if key != "reason" else ""
    if key in ("width", "depth"):
        return f"{value:.3g}"
    if key in ("trial", "epochs_run") or key in TEXT:
        return str(value)
    return style.number(float(value), key)


SORT_JS = """document.querySelectorAll('table.sortable th').forEach(function(th, i) {
  th.addEventListener('click', function() {
    var body = th.closest('table').tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var up = th.dataset.dir !== 'up'; th.dataset.dir = up ? 'up' : 'down';
    rows.sort(function(a, b) {
      var x = a.cells[i].dataset.v, y = b.cells[i].dataset.v, nx = parseFloat(x), ny = parseFloat(y);
      var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny; return up ? c : -c; });
    rows.forEach(function(r) { body.appendChild(r); }); }); });"""


def trials_html(rows: Sequence[dict[str, Any]], knee: int | None = None) -> str:
    """A sortable table (click a header) with ``id=trial-N`` per row, so a figure's point can link
    to it; sort values are the exact ones."""
    head = "".join(f"<th class={'l' if k in TEXT else 'r'} title='click to sort'>{h}</th>" for k, h in COLUMNS)
    body = []
    for row in rows:
        cells = []
        for key, _ in COLUMNS:
            value = row[key]
            sort = "" if value is None else str(value)
            text = _shown(value, key) + (" (knee)" if key == "trial" and value == knee else "")
            kind = ("l" if key in TEXT else "r") + (" nw" if key in ONE_LINE else "")
            cells.append(f"<td class='{kind}' data-v='{html.escape(sort, quote=True)}'>"
                         f"{html.escape(text)}</td>")
        body.append(f"<tr id=trial-{row['trial']} class=s-{row['state'].replace(' ', '-')}>{''.join(cells)}</tr>")
    return (f"<div class=all><table class=sortable><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
            f"</table></div>")


def ended_badly_html(rows: Sequence[dict[str, Any]]) -> str:
    """The failed and stopped-early trials with their reasons, one line each (nothing when none)."""
    parts = []
    for state in ("failed", "stopped early"):
        mine = [r for r in rows if r["state"] == state]
        if mine:
            items = "".join(f"<li><a href='#trial-{r['trial']}'>trial {r['trial']}</a>: "
                            f"{html.escape(r['reason'] or 'no reason recorded')}</li>" for r in mine)
            parts.append(f"<p class=meta>{style.plural(len(mine), 'trial')} {state}:</p><ul class=why>{items}</ul>")
    return "".join(parts)
