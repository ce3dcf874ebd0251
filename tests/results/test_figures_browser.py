"""Every figure as optuna-dashboard draws it: in a box 450 px high and as wide as a half-width
tile at 1600 px (728 px), by the plotly.js that ships with plotly. A legend lies wholly inside
the box (not cut), and every log axis carries at least 3 tick labels, read from the SVG."""

from __future__ import annotations

import json

import pytest

from scalesearch.search.results.figures import figure_data
from scalesearch.search.results.study_view import read_study
from tests.browser_helpers import browser_page
from tests.results.figure_helpers import compression_study

pytestmark = pytest.mark.slow
TILE = {"width": 728, "height": 450}  # measured on the dashboard's study page at 1600x1000


def drawn(figures: dict, tile: dict = TILE) -> dict:
    """Per figure: its box, its legend's box, and the tick labels of each log axis."""
    from plotly.offline import get_plotlyjs

    divs = "".join(f"<div id='{k}' style='width:{tile['width']}px;height:{tile['height']}px'></div>" for k in figures)
    with browser_page() as page:
        page.set_content(f"<html><head><script>{get_plotlyjs()}</script></head><body>{divs}</body></html>")
        page.evaluate("(figs) => Promise.all(Object.entries(figs).map(([k, f]) => Plotly.newPlot(k, f.data, f.layout)))",
                      json.loads(json.dumps(figures)))
        return page.evaluate("""(keys) => Object.fromEntries(keys.map(k => {
            const div = document.getElementById(k), box = div.getBoundingClientRect();
            const legend = div.querySelector('.legend'), lb = legend && legend.getBoundingClientRect();
            const layout = div._fullLayout, ticks = {};
            for (const name of Object.keys(layout).filter(n => /^[xy]axis\\d*$/.test(n))) {
                if (layout[name].type !== 'log') continue;
                const id = layout[name]._id;
                ticks[name] = [...div.querySelectorAll(`.${id}tick text`)].map(t => t.textContent);
            }
            return [k, {box: [box.left, box.top, box.right, box.bottom],
                        legend: lb && [lb.left, lb.top, lb.right, lb.bottom], ticks}]; }))""", list(figures))


def _check(result: dict) -> None:
    for key, fig in result.items():
        left, top, right, bottom = fig["box"]
        if fig["legend"]:
            x0, y0, x1, y1 = fig["legend"]
            assert left <= x0 and top <= y0 and x1 <= right + 0.5 and y1 <= bottom + 0.5, \
                f"{key}: legend {fig['legend']} is cut by its {TILE['width']}x{TILE['height']} box {fig['box']}"
        for axis, labels in fig["ticks"].items():
            assert len([x for x in labels if x]) >= 3, f"{key} {axis}: log axis with tick labels {labels}"


def test_figures_fit_the_dashboards_box_with_readable_log_axes(made_study):
    figures = figure_data(read_study(made_study))
    assert {"scaling", "importance", "pareto_front"} <= set(figures)
    _check(drawn(figures))


def test_three_objective_figures_fit_the_dashboards_box():
    figures = figure_data(read_study(compression_study()))
    assert figures["pareto_front"]["layout"]["xaxis"]["type"] == "log"  # latency: a cost, on a log axis
    _check(drawn(figures))


#: Per knob, the screen heights of its bars in every panel of the importance figure (a knob's bars
#: sit in one row across panels), and the knob names panel 1 labels.
ROWS_JS = """() => { const div = document.getElementById('importance'), L = div._fullLayout, rows = {};
    for (const t of div._fullData.filter(t => t.type === 'bar')) {
        const ax = L['yaxis' + t.yaxis.slice(1)];
        t.y.forEach((y, j) => { const knob = typeof y === 'string' ? y : ax.ticktext[y];
            (rows[knob] = rows[knob] || new Set()).add(Math.round(ax._offset + ax.d2p(y))); }); }
    return {rows: Object.fromEntries(Object.entries(rows).map(([k, s]) => [k, [...s]])),
            labels: [...div.querySelectorAll('.ytick text')].map(t => t.textContent)}; }"""


@pytest.mark.parametrize("which", ["made", "compression"])
def test_importance_rows_line_up_across_panels(made_study, which):
    """A knob's bars lie at one height in every panel, the height panel 1 names it at (each panel
    spaced only its own knobs: a depth_multiplier bar sat beside panel 1's 'family')."""
    from plotly.offline import get_plotlyjs

    study = made_study if which == "made" else compression_study()
    figure = figure_data(read_study(study))["importance"]
    assert len({k for k in figure["layout"] if k.startswith("xaxis")}) >= 2
    with browser_page() as page:
        page.set_content(f"<html><head><script>{get_plotlyjs()}</script></head><body>"
                         f"<div id=importance style='width:{TILE['width']}px;height:{TILE['height']}px'></div></body></html>")
        page.evaluate("(f) => Plotly.newPlot('importance', f.data, f.layout)", json.loads(json.dumps(figure)))
        seen = page.evaluate(ROWS_JS)
    assert seen["rows"] and all(len(heights) == 1 for heights in seen["rows"].values()), seen["rows"]
    assert set(seen["rows"]) <= set(seen["labels"]), seen["labels"]


#: The parallel-coordinates figure's axis titles and tick labels as drawn (screen boxes).
TEXTS_JS = """() => { const div = document.getElementById('parallel'), box = r => { const b = r.getBoundingClientRect();
        return [b.left, b.top, b.right, b.bottom]; };
    return {titles: [...div.querySelectorAll('text.axis-title')].map(t => [t.textContent, box(t)]),
            ticks: [...div.querySelectorAll('.tick text')].filter(t => t.textContent).map(t => [t.textContent, box(t)]),
            figure: box(div)}; }"""


def test_parallel_axis_titles_never_cover_a_tick_label(made_study):
    """A stacked title ('weight decay (log)', three lines) once ran down over its axis's top tick
    ('0.1'): the titles sit under the axes, below every tick label, inside the dashboard's box."""
    from plotly.offline import get_plotlyjs

    fig = figure_data(read_study(made_study))["parallel"]
    with browser_page() as page:
        page.set_content(f"<html><head><script>{get_plotlyjs()}</script></head><body>"
                         f"<div id='parallel' style='width:{TILE['width']}px;height:{TILE['height']}px'></div></body></html>")
        page.evaluate("(f) => Plotly.newPlot('parallel', f.data, f.layout)", json.loads(json.dumps(fig)))
        drawn_texts = page.evaluate(TEXTS_JS)
    titles, ticks = drawn_texts["titles"], drawn_texts["ticks"]
    assert len(titles) >= 6 and any("(log)" in t for t, _ in titles) and ticks
    overlap = lambda a, b: a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]  # noqa: E731
    hits = [(t, k) for t, tb in titles for k, kb in ticks if overlap(tb, kb)]
    assert not hits, f"axis titles over tick labels: {hits}"
    # Below the axes, a title's extra lines run away from them: each starts under the lowest tick label.
    lowest = max(b[3] for _, b in ticks)
    assert all(b[1] >= lowest for _, b in titles), [(t, b[1]) for t, b in titles if b[1] < lowest]
    left, top, right, bottom = drawn_texts["figure"]
    assert all(left <= b[0] and top <= b[1] and b[2] <= right and b[3] <= bottom for _, b in titles), titles
