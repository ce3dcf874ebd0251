"""optuna-dashboard as a person meets it: a short real run, then its pages in headless Chromium.

A module fixture runs a tiny real study with the refresh hook (notes and figures), serves the
dashboard on a free port, and each test loads a page at 1600x1000 and checks what a reader
sees: no sideways scrolling (on a failed trial's page too), the objective names, the note, the
study's own figures drawn, the Pareto figure whole in the first view, and no console errors. With ``SCALESEARCH_SCREENSHOTS=DIR`` the pages are also saved as small PNGs
there (docs/img/ holds the ones in the README).
"""

from __future__ import annotations

import contextlib
import os
import threading
import urllib.request
from pathlib import Path

import pytest

from scalesearch.search.config import attrs
from scalesearch.search.config.spec import load_spec
from scalesearch.search.runtime.faults import REASON_CHARS
from scalesearch.search.storage.dashboard import FIGURE_ORDER
from tests.browser_helpers import (
    VIEWPORT,
    assert_no_horizontal_overflow,
    browser_page,
    console_errors,
    free_port,
    save_screenshot,
    wait_until,
)
from tests.conftest import TINY_OVERRIDES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # a hang guard: a real run on a busy machine


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """(base URL, study, figure keys) of a served dashboard over a study made by a short real run."""
    from scalesearch.search.results.refresh import Refresh
    from scalesearch.search.storage.dashboard import make_server
    from scalesearch.search.study.study import open_study, run_study

    url = f"sqlite:///{tmp_path_factory.mktemp('dash') / 'study.db'}"
    study, spec = open_study(load_spec(None, TINY_OVERRIDES), url)
    warnings: list[str] = []
    refresh = Refresh(spec, url, share=1.0, warn=warnings.append)  # every trial refreshes everything
    refresh.start(study)
    run_study(study, spec, device="cpu", storage_url=url, on_trial_end=refresh)
    refresh.finish(study)
    # One more trial whose error is one long unbreakable line (the worker stops after 3 such).
    study, spec = open_study(None, url, spec.study_name, budget={"n_trials": spec.budget.n_trials + 1})
    refresh = Refresh(spec, url, share=1.0, warn=warnings.append)
    run_study(study, spec, device="cpu", storage_url=url, on_trial_end=refresh, trainer=_unbreakable_error)
    refresh.finish(study)
    assert not warnings
    from scalesearch.search.results.figures import build_figures

    keys = sorted(build_figures(study, spec))
    server = make_server(url, port=free_port())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}/dashboard"
    wait_until(lambda: urllib.request.urlopen(f"{base}/", timeout=10).status == 200, "the dashboard to answer")
    try:
        yield base, study, keys
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


def _unbreakable_error(model, data, cfg, device, on_epoch=None):
    raise RuntimeError("shape mismatch: " + "x" * 700 + "\nsecond line")


def study_id(study) -> int:
    return study._storage.get_study_id_from_name(study.study_name)


def shot(page, name: str) -> None:
    folder = os.environ.get("SCALESEARCH_SCREENSHOTS")
    if folder:
        save_screenshot(page, Path(folder) / f"{name}.png")


def test_the_study_page_fits_names_its_objectives_and_draws_the_studys_figures(dashboard):
    base, study, keys = dashboard
    with browser_page() as page:
        errors = console_errors(page)
        page.goto(f"{base}/studies/{study_id(study)}", wait_until="networkidle")
        # The page draws as its data arrives: wait for every figure the study stored.
        for key in keys:
            page.locator(f"[id='user-defined-plot:{key}'] .main-svg").first.wait_for(state="attached", timeout=120_000)
        for key in keys:
            box = page.locator(f"[id='user-defined-plot:{key}']").bounding_box()
            assert box and box["width"] > 300 and box["height"] > 200, f"figure {key} is not drawn: {box}"
        for key in ("pareto_front", "learning_curves", "scaling"):  # importance may need more trials
            assert page.locator(f"[id='user-defined-plot:{key}'] .main-svg .trace").count() > 0, f"{key} has no marks"
        body = page.inner_text("body")
        assert "accuracy" in body and "params" in body
        page.wait_for_timeout(500)  # let the last relayout settle before measuring widths
        assert_no_horizontal_overflow(page)
        # The first view (1600x1000, not scrolled) shows the whole Pareto figure, and the figures
        # come in their display order (search/storage/dashboard.py moves them above the built-ins).
        assert page.evaluate("window.scrollY") == 0
        boxes = {key: page.locator(f"[id='user-defined-plot:{key}']").bounding_box() for key in FIGURE_ORDER
                 if key in keys}
        front = boxes["pareto_front"]
        assert front["y"] >= 0 and front["y"] + front["height"] <= VIEWPORT["height"], f"Pareto figure at {front}"
        builtin = page.locator("#graph-pareto-front").bounding_box()  # optuna-dashboard's own, linear axes
        assert builtin["y"] > front["y"] + front["height"]
        drawn_keys = [key for key in FIGURE_ORDER if key in keys]  # importance waits for enough trials
        shown = sorted(drawn_keys, key=lambda key: (round(boxes[key]["y"]), boxes[key]["x"]))
        assert shown == drawn_keys, shown
        # Each figure whole in the 450 px box the dashboard draws it in: its legend inside that box.
        for key in keys:
            legend = page.locator(f"[id='user-defined-plot:{key}'] .legend")
            if legend.count():
                outer, inner = boxes.get(key) or page.locator(f"[id='user-defined-plot:{key}']").bounding_box(), \
                    legend.first.bounding_box()
                assert inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 0.5, f"{key}: legend cut {inner}"
                assert inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5, f"{key}: legend cut {inner}"
        # The toggles ("Log y scale", "Include PRUNED trials") sit with the built-in plots they change,
        # below every figure of ours, and say so; the spec is no JSON blob among the study's attributes.
        toggles = page.locator("fieldset", has_text="Log y scale").first.bounding_box()
        assert all(toggles["y"] >= b["y"] + b["height"] for k, b in boxes.items() if k in keys), toggles
        said = page.evaluate("getComputedStyle(document.querySelector('fieldset'), '::before').content")
        assert "stopped early (early stopping), not pruned (compression)" in said
        assert "Its importance plot ranks every knob for every objective" in said  # ours is the one for costs
        assert "ss.spec" not in body
        shot(page, "dashboard_study")
        assert not errors, errors


def test_the_note_page_answers_which_model_and_how_to_export_it(dashboard):
    base, study, _ = dashboard
    with browser_page() as page:
        errors = console_errors(page)
        page.goto(f"{base}/studies/{study_id(study)}/note", wait_until="networkidle")
        page.get_by_text("What is searched").wait_for(timeout=120_000)
        text = page.inner_text("body")
        assert "Pareto front" in text and "--trial" in text and "scalesearch export" in text
        assert "| accuracy |" not in text  # the Markdown tables are rendered as tables
        assert page.locator("table").count() >= 3  # families, objectives, Pareto front
        assert_no_horizontal_overflow(page)
        shot(page, "dashboard_note")
        assert not errors, errors


@contextlib.contextmanager
def trial_page(base: str, study, trial, state: str):
    """A trial's dashboard page, loaded: (page, its text, the console errors so far)."""
    with browser_page() as page:
        errors = console_errors(page)
        page.goto(f"{base}/studies/{study_id(study)}/trials?numbers={trial.number}", wait_until="networkidle")
        page.get_by_text(f"Trial {trial.number}: {state}").wait_for(timeout=120_000)
        yield page, page.inner_text("body"), errors


def test_a_failed_trial_page_fits_and_says_why_in_short(dashboard):
    base, study, _ = dashboard
    trial = next(t for t in study.get_trials(deepcopy=False) if t.state.name == "FAIL")
    assert len(trial.user_attrs[attrs.FAIL_REASON]) <= REASON_CHARS
    with trial_page(base, study, trial, "failed") as (page, text, errors):
        assert "Failed: RuntimeError: shape mismatch" in text and "ss.fail_reason" in text
        page.wait_for_timeout(500)
        assert_no_horizontal_overflow(page)  # a 300-character reason with the token made it 5,639 px
        shot(page, "dashboard_failed_trial")
        assert not errors, errors


def test_a_trial_page_fits_and_shows_its_note(dashboard):
    base, study, _ = dashboard
    trial = next(t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE")
    with trial_page(base, study, trial, "complete") as (page, text, errors):
        assert "Config:" in text and "Measured: accuracy" in text
        assert "Learning curve (validation accuracy per epoch" in text  # its own curve on its page
        assert "ss.accuracy" in text  # the rounded measurements still list as attributes
        assert_no_horizontal_overflow(page)
        shot(page, "dashboard_trial")
        assert not errors, errors
