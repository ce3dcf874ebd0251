"""optuna-dashboard serves the study from the SQLite file while a run is writing to it."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request

import pytest

from scalesearch.errors import ScalesearchError
from scalesearch.search.config.spec import load_spec
from scalesearch.search.storage.dashboard import make_server
from scalesearch.search.study.study import count_finished, open_study, run_study
from tests.conftest import TINY_OVERRIDES, FakeTrainer


def _get(port: int, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.loads(response.read())


def test_dashboard_reads_the_study_while_it_runs(storage_url, tiny_data):
    spec = load_spec(None, TINY_OVERRIDES + ["budget.n_trials=6"])
    study, spec = open_study(spec, storage_url)
    server = make_server(storage_url, "127.0.0.1", 0)
    port = server.server_port
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen_during_run = []

    class SlowFake(FakeTrainer):
        def __call__(self, *args, **kwargs):
            studies = _get(port, "/api/studies")["study_summaries"]
            seen_during_run.append(studies)
            return super().__call__(*args, **kwargs)

    try:
        run_study(study, spec, data=tiny_data, device="cpu", trainer=SlowFake())
        assert seen_during_run and seen_during_run[0][0]["study_name"] == spec.study_name
        studies = _get(port, "/api/studies")["study_summaries"]
        (summary,) = studies
        detail = _get(port, f"/api/studies/{summary['study_id']}?after=0")
        assert len(detail["trials"]) == count_finished(study) == 6
        assert detail["objective_names"] == ["accuracy", "params"]  # from study.set_metric_names
    finally:
        server.shutdown()
        server.server_close()


def test_port_in_use_is_a_clear_error(storage_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ScalesearchError, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
            make_server(storage_url, "127.0.0.1", port)


def test_the_served_study_page_carries_the_figures_first_style_and_never_a_stale_copy(storage_url):
    from scalesearch.search.results.figures import FIGURES
    from scalesearch.search.storage.dashboard import FIGURE_ORDER, TOGGLES_NOTE, figures_first_css

    assert tuple(FIGURES) == FIGURE_ORDER  # the storage layer's copy of the display order
    open_study(load_spec(None, TINY_OVERRIDES), storage_url)
    server = make_server(storage_url, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/dashboard/studies/1"
        request = urllib.request.Request(url, headers={"If-Modified-Since": "Thu, 01 Jan 2099 00:00:00 GMT"})
        with urllib.request.urlopen(request, timeout=10) as response:  # a 304 would raise here
            body = response.read()
            assert response.status == 200 and int(response.headers["Content-Length"]) == len(body)
        page = body.decode()
        assert figures_first_css() in page and page.index(figures_first_css()) < page.index("</head>")
        # The toggles are not moved above our figures (they change only the built-in plots) and say so.
        assert "fieldset { order" not in figures_first_css() and TOGGLES_NOTE in json.loads(
            '"' + figures_first_css().split('content: "')[1].split('";')[0] + '"')
        assert "importance plot ranks every knob for every objective" in TOGGLES_NOTE  # ours is the one for costs
        for earlier, later in zip(FIGURE_ORDER, FIGURE_ORDER[1:], strict=False):
            assert page.index(f"user-defined-plot:{earlier}") < page.index(f"user-defined-plot:{later}")
        assert _get(server.server_port, "/api/studies")["study_summaries"]  # the API passes untouched
    finally:
        server.shutdown()
        server.server_close()


def test_the_spec_is_kept_off_the_study_page_and_still_resumes(storage_url):
    """The dashboard lists every study user attr (JSON cut at 1,024 chars): the spec is a system attr."""
    from scalesearch.search.config import attrs
    from scalesearch.search.study.study import stored_spec

    study, spec = open_study(load_spec(None, TINY_OVERRIDES), storage_url)
    assert attrs.SPEC not in study.user_attrs
    assert stored_spec(study) == spec
    resumed, again = open_study(None, storage_url, spec.study_name, budget={"n_trials": spec.budget.n_trials + 2})
    assert again.budget.n_trials == spec.budget.n_trials + 2 and stored_spec(resumed) == again
