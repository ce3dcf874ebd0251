"""``scalesearch report``: one offline HTML file on every storage, 2 and 3 objectives, with and
without compression, on a running study; PNGs through kaleido; the page as Chromium shows it."""

from __future__ import annotations

import re

import optuna
import pytest

from scalesearch import cli
from scalesearch.search.results.figures import FIGURES
from scalesearch.search.results.html_report import HTML_NAME, write_report
from scalesearch.search.results.study_view import read_study
from tests.results.figure_helpers import compression_study, copy_study
from tests.workers_helpers import (
    BACKENDS,
    postgres_url,  # noqa: F401  (fixture)
    storage_url_for,
)


def _assert_offline(text: str) -> None:
    from plotly.offline import get_plotlyjs

    library = get_plotlyjs()
    assert f"<script>{library}</script>" in text  # plotly.js itself is inlined, once
    ours = text.replace(library, "")
    assert not re.search(r"<script[^>]*\bsrc\s*=", ours, re.I), "a script is loaded from elsewhere"
    assert not re.search(r"<link\b", ours, re.I), "a stylesheet is loaded from elsewhere"
    assert not re.search(r"https?://", ours), re.search(r".{60}https?://.{60}", ours).group(0)
    assert ours.count("Plotly.newPlot") == len(FIGURES)


@pytest.mark.parametrize("backend", BACKENDS)
def test_report_on_every_storage(backend, made_study, tmp_path, request):
    url = storage_url_for(backend, tmp_path, request)
    name = f"copy_{backend}_{tmp_path.name}"[:60]
    study = copy_study(made_study, url, name)
    report = write_report(study, tmp_path / "out", storage_url=url, png=False)
    text = report.path.read_text()
    assert report.path == tmp_path / "out" / HTML_NAME and report.pngs == []
    _assert_offline(text)
    for key in FIGURES:
        assert f"id=fig-{key}" in text
    view = read_study(study)
    front = view.front()
    for point in front:  # one row per Pareto-optimal trial, with its export command
        assert f"--study-name {name} --trial {point.number} -o trial_{point.number}.yaml" in text
    assert text.count("<tr id=front-") == len(front) and text.count("(knee)") == 2  # front table, all trials
    assert f"{front[0].metrics['accuracy']:.4f}" in text
    # Every trial has a row (linked from the front table and from a figure's points) and a CSV line.
    assert text.count("<tr id=trial-") == len(study.trials)
    assert all(f"<a href='#trial-{p.number}'>" in text for p in front)
    assert "plotly_click" in text and "class=sortable" in text
    # An export command wraps between words only (it broke "trial_4.yam" / "l"), the knee sits in its trial cell.
    assert "break-all" not in text and re.search(r"<a href='#trial-\d+'>\d+ \(knee\)</a>", text)
    lines = (tmp_path / "out" / "trials.csv").read_text().splitlines()
    assert lines[0].startswith("trial,state,family") and len(lines) == len(study.trials) + 1
    assert sum(",stopped early," in line for line in lines) == sum(t.state.name == "PRUNED" for t in study.trials)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_three_objectives_with_compression_and_a_running_trial(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    study = compression_study(url)
    study.enqueue_trial({"family": "resnet"})
    study.ask()  # a worker is still training it
    report = write_report(study, tmp_path / "out", storage_url=url, png=False)
    text = report.path.read_text()
    _assert_offline(text)
    assert "running (1 trial in progress)" in text
    assert "compression" in text and "prune 0.5" in text and "latency (ms)" in text and "size (MB)" in text
    assert "trials stopped early:" in text and "asha: at rung 3 epochs" in text  # each with its reason


def test_the_front_table_states_each_rows_accuracy_interval(made_study, tmp_path):
    from scalesearch.search.config import attrs, system_attrs
    from scalesearch.search.storage.storage import stored_study

    url = f"sqlite:///{tmp_path / 'i.db'}"
    copy = copy_study(made_study, url, "interval")
    study = stored_study("interval", copy._storage)
    from scalesearch.search.datasets.recorded import split_record

    record = split_record(made_study) or {"assignment": "", "sizes": {"train": 1000, "val": 360, "test": 360}}
    system_attrs.set_study_data(study, attrs.SPLIT, record)
    text = write_report(study, tmp_path / "out", storage_url=url, png=False).path.read_text()
    assert "95 % interval</th>" in text
    for point in read_study(study).front():
        row = re.search(rf"<tr id=front-{point.number}(?: class=knee)?>(.*?)</tr>", text).group(1)
        low, high = map(float, re.search(r"\[(0\.\d{4}), (0\.\d{4}|1\.0000)\]", row).groups())
        assert low < point.metrics["accuracy"] < high


def test_the_report_command_prints_where_it_wrote(made_study, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    copy_study(made_study, url)
    assert cli.main(["report", "--storage", url, "-o", str(tmp_path / "rep"), "--no-png"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / 'rep' / HTML_NAME}" in out and "works offline" in out
    # a row's export command runs as printed
    text = (tmp_path / "rep" / HTML_NAME).read_text()
    command = re.search(r"<code>(scalesearch export [^<]+)</code>", text).group(1)
    number = int(re.search(r"--trial (\d+)", command).group(1))
    argv = command.split()[1:]
    argv[argv.index("-o") + 1] = str(tmp_path / "t.yaml")
    assert cli.main(argv) == 0
    assert f"exported trial {number} " in capsys.readouterr().out and (tmp_path / "t.yaml").exists()


@pytest.mark.slow
def test_png_of_every_figure(made_study, tmp_path):
    report = write_report(made_study, tmp_path, png=True)
    assert report.png_problem is None, report.png_problem
    assert sorted(p.name for p in report.pngs) == sorted(f"{k}.png" for k in FIGURES)
    for path in report.pngs:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, path  # a drawn figure, not a blank
    assert "pareto_front.png" in report.path.read_text()


#: The all-trials table's cells reading "(knee)" or "stopped early", and those whose text the
#: browser laid out on more than one line.
ONE_LINE_JS = """() => { const cells = [...document.querySelectorAll('table.sortable td')]
        .filter(td => /\\(knee\\)|stopped early/.test(td.textContent));
    const lines = td => { const r = document.createRange(); r.selectNodeContents(td);
        return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; };
    return {checked: cells.length, wrapped: cells.filter(td => lines(td) > 1).map(td => td.textContent)}; }"""


@pytest.mark.slow
def test_the_report_in_chromium(made_study, tmp_path):
    from tests.browser_helpers import (
        assert_no_horizontal_overflow,
        browser_page,
        console_errors,
        wait_until,
    )

    report = write_report(compression_study(), tmp_path / "c", png=False)
    plain = write_report(made_study, tmp_path / "d", png=False)
    for path in (plain.path, report.path):
        with browser_page() as page:
            errors = console_errors(page)
            page.goto(path.as_uri(), wait_until="load")
            drawn = wait_until(lambda page=page: page.evaluate(
                "() => { const ps = [...document.querySelectorAll('.js-plotly-plot')];"
                " return ps.length && ps.every(p => p.querySelectorAll('.scatterlayer .trace, .barlayer .trace, .parcoords .axis').length)"
                " ? ps.map(p => p.id) : null; }"), "every figure drawn by plotly.js")
            assert drawn == [f"fig-{k}" for k in FIGURES]
            assert_no_horizontal_overflow(page)
            assert not errors, errors
            widths = page.evaluate("[...document.querySelectorAll('.js-plotly-plot')].map(p => p.clientWidth)")
            assert min(widths) > 600  # two figures side by side at 1600 px, each readable
            # In the table of all trials, "12 (knee)" and "stopped early" each stay on one line.
            wrapped = page.evaluate(ONE_LINE_JS)
            assert wrapped["checked"] >= 2 and not wrapped["wrapped"], wrapped


def test_nothing_to_report_is_a_one_line_error(tmp_path):
    from scalesearch.errors import ReportError, StorageError

    study = optuna.create_study(directions=["maximize", "minimize"])
    with pytest.raises(StorageError, match="was not created by scalesearch"):
        write_report(study, tmp_path)  # no stored spec
    study = compression_study(n=0)
    with pytest.raises(ReportError, match="has no complete trial yet") as info:
        write_report(study, tmp_path / "out")
    assert "\n" not in str(info.value) and not (tmp_path / "out").exists()


def test_failed_trials_are_listed_with_their_reasons(tmp_path):
    """ended_badly_html: each failed trial by number, linked to its row, with the reason it failed;
    the stopped ones after them; the table says 'uncompressed' for a model deployed as trained."""
    from scalesearch.search.config import attrs

    study = compression_study()
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs={
        attrs.FAIL_REASON: "RuntimeError: CUDA out of memory (tried to allocate 2.00 GiB)"}))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    first, second = (t.number for t in study.trials[-2:])
    text = write_report(study, tmp_path / "out", png=False).path.read_text()
    listed = re.search(r"<p class=meta>2 trials failed:</p><ul class=why>(.*?)</ul>", text).group(1)
    assert (f"<li><a href='#trial-{first}'>trial {first}</a>: RuntimeError: CUDA out of memory (tried to allocate "
            "2.00 GiB)</li>") in listed
    assert f"<a href='#trial-{second}'>trial {second}</a>: no reason recorded" in listed
    assert text.index("trials failed:") < text.index("trials stopped early:")
    assert f"<tr id=trial-{first} class=s-failed>" in text
    assert re.search(r"<tr id=trial-0 [^>]*>.*?>uncompressed</td>", text)  # trial 0 is deployed as trained
