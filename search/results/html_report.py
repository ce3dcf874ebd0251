"""``scalesearch report``: one self-contained HTML file (plotly.js inlined, no CDN, viewable
offline) with the study's summary, its Pareto front as a table with the export command for each
row, and every figure of :mod:`.figures`; plus a PNG of each figure beside it.

    path = write_report(study, "report/", storage_url="sqlite:///runs.db")   # report/report.html
"""

from __future__ import annotations

import datetime as dt
import html
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalesearch.errors import ReportError, option
from scalesearch.search.config.metrics import METRICS
from scalesearch.search.config.spec import StudySpec
from scalesearch.search.results import figure_images
from scalesearch.search.results import figure_style as style
from scalesearch.search.results.figures import figure_data
from scalesearch.search.results.study_view import StudyView, TrialPoint, read_study

HTML_NAME = "report.html"
COLUMNS = ("trial", "family", "width", "depth", "compression", "accuracy", "params", "flops", "latency_ms",
           "size_mb")
CSS = """
body{font:14px/1.45 Helvetica,Arial,sans-serif;color:#222;margin:0;background:#fafafa}
main{max-width:1560px;margin:0 auto;padding:16px 20px 40px;box-sizing:border-box}
h1{font-size:22px;margin:4px 0 2px}h2{font-size:17px;margin:26px 0 8px}
.meta{color:#555;margin:0 0 4px;overflow-wrap:anywhere}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,680px),1fr));gap:14px}
figure{margin:0;background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:6px;min-width:0}
figcaption{font-size:12px;color:#666;padding:2px 6px}
table{border-collapse:collapse;background:#fff;width:100%;table-layout:auto}
th,td{border-bottom:1px solid #e6e6e6;padding:4px 8px;text-align:right;vertical-align:top}
th{background:#f0f0f0;font-weight:600}td.l,th.l{text-align:left}
td code{font-size:12px;overflow-wrap:anywhere;white-space:normal}.nw{white-space:nowrap}
tr.knee td{background:#fff7e0}.note{color:#666;font-size:12px}
.front{max-height:430px;overflow-y:auto;border:1px solid #e3e3e3}.front th{position:sticky;top:0}
.all{max-height:520px;overflow:auto;border:1px solid #e3e3e3}.all th{position:sticky;top:0;cursor:pointer}
tr:target td{background:#ffe9a8}tr.s-failed td{color:#a33}tr.s-stopped-early td{color:#777}ul.why{margin:2px 0 8px}
"""


@dataclass
class Report:
    path: Path
    pngs: list[Path] = field(default_factory=list)
    png_problem: str | None = None  # why no PNG was written


def export_command(view: StudyView, number: int, storage_url: str | None) -> str:
    from scalesearch.search.results.notes import shown_url

    storage = f" --storage {shown_url(storage_url)}" if storage_url else ""
    return f"scalesearch export{storage} --study-name {view.name} --trial {number} -o trial_{number}.yaml"


def _cell(point: TrialPoint, column: str) -> str:
    if column == "trial":
        return str(point.number)
    if column == "family":
        return point.family
    if column in ("width", "depth"):
        value = point.width if column == "width" else point.depth
        return "-" if value is None else f"{value:.3g}"
    if column == "compression":
        return point.compression
    return style.number(point.metrics.get(column), column)


def _header(column: str) -> str:
    unit = METRICS.get(column, ("", ""))[1]
    name = {"flops": "FLOPs", "latency_ms": "latency", "size_mb": "size"}.get(column, column)
    return f"{name} ({unit})" if unit else name


INTERVAL_NOTE = ("; 95 % interval: the configuration's validation accuracy with the validation split's noise "
                 "and the seed spread (pooled over re-evaluated trials), as export states it")
SEEDS_NOTE = ("; accuracy over seeds: the deployed accuracy of trials trained again with more seeds "
              "(export, stability or measure.final_reeval; re-split: each on a fresh train/validation partition) "
              "and its 95 % validation interval")


def _over_seeds(summary: dict[str, Any] | None) -> str:
    """``0.9523 ± 0.0172 (3 seeds) [0.9301, 0.9702]``, or ``-`` for a trial not re-evaluated."""
    from scalesearch.search.results.reeval import over_seeds_text

    return "-" if summary is None else over_seeds_text(summary)


def front_table(view: StudyView, storage_url: str | None, knee: int | None,
                seeds: dict[int, dict[str, Any]] | None = None,
                intervals: dict[int, tuple[float, float]] | None = None) -> str:
    """The Pareto front as an HTML table of named, rounded values with an export command per row;
    with ``intervals``, each row's 95 % accuracy interval beside its accuracy; with ``seeds``
    (``reeval.seed_summaries``), a column of the deployed accuracy over seeds."""
    compressed = bool(view.spec.space.compression)
    columns = [c for c in COLUMNS if c != "compression" or compressed]
    head = "".join(f"<th class={'l' if c in ('family', 'compression') else 'r'}>{_header(c)}</th>"
                   + ("<th class=r>95 % interval</th>" if c == "accuracy" and intervals else "") for c in columns)
    if seeds:
        head += "<th class=r>accuracy over seeds (mean ± std, 95 % interval)</th>"
    rows = []
    for point in view.front():
        cells = ""
        for c in columns:
            text = _cell(point, c) + (" (knee)" if c == "trial" and point.number == knee else "")
            if c == "trial":
                text = f"<a href='#trial-{point.number}'>{html.escape(text)}</a>"
            else:
                text = html.escape(text)
            cells += f"<td class='{'l' if c in ('family', 'compression') else 'r'} nw'>{text}</td>"
            if c == "accuracy" and intervals:
                shown = intervals.get(point.number)
                cells += f"<td class='r nw'>{'-' if shown is None else f'[{shown[0]:.4f}, {shown[1]:.4f}]'}</td>"
        if seeds:
            cells += f"<td class=r>{html.escape(_over_seeds(seeds.get(point.number)))}</td>"
        mark = point.number == knee
        command = html.escape(export_command(view, point.number, storage_url))
        rows.append(f"<tr id=front-{point.number}{' class=knee' if mark else ''}>{cells}"
                    f"<td class=l><code>{command}</code></td></tr>")
    return (f"<div class=front><table><thead><tr>{head}<th class=l>export it</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _summary(view: StudyView, storage_url: str | None) -> str:
    from scalesearch.search.results.notes import shown_url

    spec: StudySpec = view.spec
    counts = view.counts
    objectives = ", ".join(f"{o} ({METRICS[o][0][:3]}{', ' + METRICS[o][1] if METRICS[o][1] else ''})"
                           for o in view.objectives)
    families = ", ".join(spec.space.families)
    compression = ", ".join(spec.space.compression) if spec.space.compression else "none"
    finished = counts.get("COMPLETE", 0) + counts.get("PRUNED", 0)
    running = counts.get("RUNNING", 0)
    state = f"running ({running} trial{'s' * (running != 1)} in progress)" if running else "not running"
    lines = [
        f"Objectives: {objectives}. Constraints: {', '.join(spec.constraints) or 'none'}.",
        f"Space {spec.space.name}: families {families}; compression knobs: {compression}."
        + (f" Started from earlier studies: {view.started_from}." if view.started_from else ""),
        f"Trials: {finished} of {spec.budget.n_trials} finished ({counts.get('COMPLETE', 0)} complete, "
        f"{counts.get('PRUNED', 0)} stopped early), {counts.get('FAIL', 0)} failed; {state}.",
        f"Storage {html.escape(shown_url(storage_url)) if storage_url else '(not given)'}; written "
        f"{dt.datetime.now().strftime('%Y-%m-%d %H:%M')}.",
    ]
    return "".join(f"<p class=meta>{html.escape(line) if i < 3 else line}</p>" for i, line in enumerate(lines))


#: A click on a point whose hover names its trial goes to that trial's row in the table of all trials.
CLICK_TO_ROW = ("document.getElementById('fig-{key}').on('plotly_click',function(e){{var p=e.points[0],"
                "m=/trial (\\d+)/.exec(p.text||(p.data.text||[])[p.pointNumber]||'');"
                "if(m){{location.hash='trial-'+m[1];}}}});")


def _plot(key: str, figure: dict[str, Any]) -> str:
    """A div and the script that draws ``figure`` (plain plotly data) into it with plotly.js."""
    data = json.dumps(figure, separators=(",", ":")).replace("</", "<\\/")
    height = figure["layout"].get("height", style.HEIGHT)
    return (f"<div id=fig-{key} class=plot style='height:{height}px'></div><script>"
            f"(function(){{var f={data};Plotly.newPlot('fig-{key}',f.data,f.layout,"
            f"{{responsive:true,displaylogo:false}});{CLICK_TO_ROW.format(key=key)}}})();</script>")


def render(view: StudyView, figures: dict[str, dict[str, Any]], storage_url: str | None, knee: int | None,
           pngs: dict[str, str], seeds: dict[int, dict[str, Any]] | None = None,
           rows: list[dict[str, Any]] | None = None, intervals: dict[int, tuple[float, float]] | None = None) -> str:
    """The report page as one string (plotly.js inlined once)."""
    from plotly.offline import get_plotlyjs

    from scalesearch.search.results.trials_table import (
        CSV_NAME,
        SORT_JS,
        ended_badly_html,
        trials_html,
    )

    blocks = []
    for key, figure in figures.items():
        link = f" · <a href='{pngs[key]}'>PNG</a>" if key in pngs else ""
        blocks.append(f"<figure id={key}>{_plot(key, figure)}<figcaption>{key}{link}</figcaption></figure>")
    title = f"scalesearch report: {view.name}"
    return (
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><style>{CSS}</style>"
        f"<script>{get_plotlyjs()}</script></head><body><main>"
        f"<h1>{html.escape(title)}</h1>{_summary(view, storage_url)}"
        f"<h2>Pareto front ({style.plural(len(view.front()), 'trial')})</h2>"
        f"{front_table(view, storage_url, knee, seeds, intervals)}"
        f"<p class=note>Rows: Pareto-optimal complete trials that meet the constraints, fewest parameters first; "
        f"the highlighted row is the knee on the stored scores (<code>--pick knee</code>), the balanced choice"
        f"{INTERVAL_NOTE if intervals else ''}{SEEDS_NOTE if seeds else ''}. A trial number, or a point in a figure, "
        f"leads to its row in the table of all trials.</p>"
        f"<h2>Figures</h2><div class=grid>{''.join(blocks)}</div>"
        + (f"<h2>All trials ({len(rows)})</h2>{ended_badly_html(rows)}{trials_html(rows, knee)}"
           f"<p class=note>Click a header to sort; exact values in <a href='{CSV_NAME}'>{CSV_NAME}</a>. "
           f"A trial stopped early shows its accuracy at the rung where it stopped.</p>"
           f"<script>{SORT_JS}</script>" if rows else "") +
        f"<script type=application/json id=ss-summary>{json.dumps({'study': view.name, 'figures': list(figures)})}</script>"
        f"</main></body></html>"
    )


def write_report(study: Any, out_dir: str | Path, *, storage_url: str | None = None, spec: StudySpec | None = None,
                 png: bool = True, caller: str = "cli") -> Report:
    """Write ``out_dir/report.html`` (and ``<figure>.png`` files unless ``png`` is False).

    Raises :class:`ReportError` when the study has no complete trial or ``out_dir`` is not a folder
    (naming ``-o`` or, for ``caller="python"``, ``out_dir``).
    """
    out = Path(out_dir)
    folder = option(caller, "-o", "out_dir")
    if out.exists() and not out.is_dir():
        raise ReportError(f"report: {out} is a file; give {folder} a folder to write the report in")
    trials = study.get_trials(deepcopy=False)
    view = read_study(study, spec, trials)
    if not view.complete:
        figure_data(view)  # raises ReportError saying why
    started = png and figure_images.start()  # the browser starts while the figures are built
    try:
        figures = figure_data(view)
        knee = view.knee
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ReportError(f"report: cannot create {out} ({e.strerror or e}); pick another {folder} folder") from None
        report = Report(out / HTML_NAME, png_problem=None if started or not png else figure_images.why_not())
        if started:
            report.pngs = _pngs(figures, out, report)
        from scalesearch.search.results.reeval import seed_summaries
        from scalesearch.search.results.trials_table import CSV_NAME, trial_rows, write_csv

        front = [t for t in trials if t.number in {p.number for p in view.front()}]
        rows = trial_rows(trials)
        write_csv(rows, out / CSV_NAME)
        text = render(view, figures, storage_url, knee, {p.stem: p.name for p in report.pngs},
                      seed_summaries(study, front), rows, front_intervals(study, view.spec, front))
        report.path.write_text(text, encoding="utf-8")
        return report
    finally:
        if started:
            figure_images.stop()


def front_intervals(study: Any, spec: StudySpec, front: list[Any]) -> dict[int, tuple[float, float]]:
    """Each front trial's 95 % validation interval (``selection.estimates``, what export states);
    empty when the study recorded no split sizes (the report does not load the dataset)."""
    from scalesearch.search.datasets.recorded import split_record
    from scalesearch.search.results.selection import estimates

    try:
        record = split_record(study)
        if not front or not record or "sizes" not in record:
            return {}
        return {number: e.validation for number, e in estimates(study, spec, front).items()}
    except TypeError:  # an optuna.Study not opened by scalesearch: its stored re-evaluations are out of reach
        return {}


def _pngs(figures: dict[str, dict[str, Any]], out: Path, report: Report) -> list[Path]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # kaleido: "kopts ignored with a server"
            return figure_images.write_pngs(figures, out)
    except Exception as e:  # noqa: BLE001 - the HTML is still written; say why the images are not
        report.png_problem = f"PNG images not written: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        return []
