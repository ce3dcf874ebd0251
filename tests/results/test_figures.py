"""The study figures: what they draw from a fake-trainer run and from a 3-objective compression
study, and that publishing them to optuna-dashboard replaces instead of adding copies."""

from __future__ import annotations

import json

import optuna
import plotly.graph_objects as go
import pytest

from scalesearch.errors import ReportError
from scalesearch.search.config import attrs
from scalesearch.search.results.figures import FIGURES, build_figures, figure_data, publish_figures
from scalesearch.search.results.hypervolume import (
    hypervolume,
    hypervolume_history,
    scaled_objectives,
)
from scalesearch.search.results.report import complete_trials, pareto_trials
from scalesearch.search.results.study_view import read_study, spec_of
from tests.results.figure_helpers import compression_study, dashboard_figures


def _traces(figure, **match):
    return [t for t in figure["data"] if all(t.get(k) == v for k, v in match.items())]


def test_every_figure_is_built_with_stable_keys(made_study):
    figures = build_figures(made_study)
    assert list(figures) == list(FIGURES) == ["pareto_front", "hypervolume", "learning_curves", "scaling", "parallel",
                                              "importance"]
    for key, figure in figures.items():
        assert isinstance(figure, go.Figure), key
        assert any(len(getattr(t, "x", None) or getattr(t, "dimensions", None) or ()) for t in figure.data), \
            f"{key} draws nothing"
        assert figure.layout.title.text, key


def test_the_run_has_complete_and_early_stopped_trials(made_study):
    states = {t.state.name for t in made_study.trials}
    assert {"COMPLETE", "PRUNED"} <= states  # else the tests below would not cover stopped trials


def test_pareto_front_has_log_cost_axis_family_colours_and_faint_stopped_trials(made_study):
    view = read_study(made_study)
    figure = figure_data(view)["pareto_front"]
    layout = figure["layout"]
    assert layout["xaxis"]["type"] == "log" and "parameters" in layout["xaxis"]["title"]["text"]
    assert layout["yaxis"]["type"] == "linear" and "accuracy" in layout["yaxis"]["title"]["text"]
    drawn = [t for t in figure["data"] if t.get("text") and t["mode"] == "markers"]
    assert {t["legendgroup"] for t in drawn} == {p.family for p in view.points}
    assert len({t["marker"]["color"] for t in drawn}) == len({p.family for p in view.points})
    texts = [text for t in drawn for text in t["text"]]
    assert len(texts) == len(view.points)  # every finished trial, stopped ones included
    for point in view.stopped:
        text = next(x for x in texts if x.startswith(f"trial {point.number} "))
        assert f"stopped early after {point.epochs_run} epochs" in text
    opacities = [o for t in drawn for o in t["marker"]["opacity"]]
    assert min(opacities) < 0.3  # stopped trials are faint
    legend = [t["name"] for t in figure["data"] if t.get("showlegend")]
    assert "Pareto front" in legend and "stopped early" in legend


def test_front_outlined_in_the_figure_is_the_exported_front(made_study):
    spec = spec_of(made_study)
    figure = figure_data(read_study(made_study))["pareto_front"]
    outlined = {int(text.split()[1]) for t in figure["data"] if t.get("text") and t["mode"] == "markers"
                for text, width in zip(t["text"], t["marker"]["line"]["width"], strict=True) if width > 0}
    assert outlined == {t.number for t in pareto_trials(complete_trials(made_study), spec)}


def test_hover_names_the_trial_and_rounds_values(made_study):
    view = read_study(made_study)
    point = view.complete[0]
    texts = [x for t in figure_data(view)["pareto_front"]["data"] if t.get("text") for x in t["text"]]
    text = next(x for x in texts if x.startswith(f"trial {point.number} "))
    assert point.family in text and f"w{point.width:.3g}" in text
    accuracy = made_study.trials[point.number].values[0]  # full precision
    assert f"{accuracy:.4f}" in text and repr(accuracy) not in text


def test_learning_curves_stop_at_the_rung(made_study):
    view = read_study(made_study)
    figure = figure_data(view)["learning_curves"]
    ends: dict[int, int] = {}
    for trace in _traces(figure, mode="lines"):
        for x, number in zip(trace["x"], trace["customdata"], strict=True):
            if number is not None:
                ends[number] = max(ends.get(number, 0), x)
    for trial in made_study.trials:
        if trial.state.name == "PRUNED" and trial.user_attrs.get("ss.val_curve"):
            assert ends[trial.number] == trial.user_attrs[attrs.RUNG_REACHED]
        elif trial.state.name == "COMPLETE":
            assert ends[trial.number] == trial.user_attrs["ss.epochs_run"]
    assert [s["x0"] for s in figure["layout"]["shapes"]] == list(view.rungs) == [3]


def test_hypervolume_grows_and_ends_at_the_fronts_volume(made_study):
    view = read_study(made_study)
    figure = figure_data(view)["hypervolume"]
    by_trials, by_epochs = _traces(figure, mode="lines")
    assert by_trials["y"] == by_epochs["y"] and all(a <= b for a, b in zip(by_trials["y"], by_trials["y"][1:], strict=False))
    assert by_trials["x"] == list(range(1, len(view.points) + 1))
    assert by_epochs["x"][-1] == sum(p.epochs_run for p in view.points)
    values = [view.values(p) for p in view.complete if p.feasible]
    expected = hypervolume(scaled_objectives(values, view.directions), [1.1, 1.1]) / 1.1 ** 2
    assert by_trials["y"][-1] == pytest.approx(expected)


def test_scaling_names_each_familys_fit_or_why_not(made_study):
    figure = figure_data(read_study(made_study))["scaling"]
    names = [t.get("name", "") for t in figure["data"]]
    assert any(n.startswith("resnet: N^-") for n in names), names  # resnet has many sizes: a fit
    assert all(figure["layout"][a]["type"] == "log" for a in ("xaxis", "xaxis2", "yaxis"))


def test_importance_ranks_family_knobs_within_their_family(made_study):
    figure = figure_data(read_study(made_study))["importance"]
    bars = [t for t in figure["data"] if t["type"] == "bar"]
    groups = {t["legendgroup"]: {knob for _, knob in t["customdata"]} for t in bars}
    # all trials: the family choice, and the width every family has (read from the config)
    assert {"family", "width_multiplier"} <= groups.get("all trials", set())
    assert "width_multiplier" in groups["resnet"]  # resnet.width_multiplier, ranked over resnet's trials
    widths = [x for t in bars if t["legendgroup"] == "resnet" and t["xaxis"] == "x2"
              for x, (_, knob) in zip(t["x"], t["customdata"], strict=True) if knob == "width_multiplier"]
    assert widths and widths[0] > 0.5  # params depend on width: most of their variance


def test_three_objectives_with_compression():
    study = compression_study()
    view = read_study(study)
    figure = figure_data(view)["pareto_front"]
    layout = figure["layout"]
    assert [layout["xaxis"]["title"]["text"], layout["xaxis2"]["title"]["text"]] == [
        "latency (ms) (log scale)", "model size (MB) (log scale)"]
    legend = {t["name"] for t in figure["data"] if t.get("showlegend")}
    assert {"uncompressed", "pruned", "int8_static", "pruned + int8_dynamic"} <= legend
    symbols = {s for t in figure["data"] if t.get("text") and t["mode"] == "markers" for s in t["marker"]["symbol"]}
    assert len({s.replace("-open", "") for s in symbols}) == 4
    assert "Pareto front" not in legend  # no staircase for a 3-D front: its points are outlined
    # stopped trials have no latency: drawn only where both metrics exist (the size panel has none either)
    assert all(build_figures(study)[k].data for k in FIGURES)
    scaling = figure_data(view)["scaling"]["layout"]["title"]["text"]
    assert "Pruned vs the best unpruned model of at most the same params: ratio 0.3" in scaling.replace(
        "</span><br><span style='font-size:11px;color:#666'>", " ")  # issue 25's same-size line


def test_a_study_without_complete_trials_says_so(storage_url):
    study = compression_study(storage_url, n=0)
    with pytest.raises(ReportError, match="has no complete trial yet"):
        build_figures(study)
    assert publish_figures(study) == []


def test_publishing_twice_replaces_the_figures(made_study, tmp_path):
    from tests.results.figure_helpers import copy_study

    study = copy_study(made_study, f"sqlite:///{tmp_path / 'copy.db'}")
    assert publish_figures(study) == list(FIGURES)
    stored = dashboard_figures(study)
    assert sorted(stored) == sorted(FIGURES)
    assert publish_figures(study) == []  # nothing changed: nothing written
    trial = study.trials[0]
    study.add_trial(optuna.trial.create_trial(values=[0.999, 1_000.0], params=trial.params,
                                              distributions=trial.distributions,
                                              user_attrs=trial.user_attrs | {"ss.accuracy": 0.999, "ss.params": 1_000}))
    assert "pareto_front" in publish_figures(study)
    again = dashboard_figures(study)
    assert sorted(again) == sorted(FIGURES)  # replaced, not added
    front = json.loads(again["pareto_front"])
    assert any("0.9990" in text for t in front["data"] for text in t.get("text") or ())


@pytest.mark.parametrize(("points", "reference", "volume"), [
    ([(1, 2), (2, 1)], (3, 3), 3.0),
    ([(1, 1, 1)], (2, 2, 2), 1.0),
    ([(0, 1, 1), (1, 0, 1), (1, 1, 0)], (2, 2, 2), 4.0),  # 3 boxes of 2, pairwise overlaps of 1, all three 0
    ([(0, 0, 0, 0)], (1, 2, 3, 4), 24.0),
    ([(5, 5)], (3, 3), 0.0),
])
def test_hypervolume_exact(points, reference, volume):
    assert hypervolume(points, reference) == pytest.approx(volume)


def test_hypervolume_3d_matches_a_grid_count():
    import itertools
    import random

    rng = random.Random(0)
    points = [tuple(rng.random() for _ in range(3)) for _ in range(12)]
    n = 24
    cells = itertools.product(*(range(n),) * 3)
    inside = sum(any(all(p[k] <= (c[k] + 0.5) / n for k in range(3)) for p in points) for c in cells)
    assert hypervolume(points, (1, 1, 1)) == pytest.approx(inside / n**3, abs=0.02)


def test_hypervolume_history_ignores_missing_points_and_never_drops():
    history = hypervolume_history([(0.9, 1e4), None, (0.95, 1e5), (0.85, 2e5), (0.97, 2e4)], ["maximize", "minimize"])
    assert history[0] == history[1] and history[2] > history[1] and history[3] == history[2]
    assert history[4] > history[3] and history[4] <= 1.0


def test_a_single_objective_study_is_drawn_against_params(made_study):
    import dataclasses

    view = read_study(made_study)
    single = dataclasses.replace(view, objectives=("accuracy",), directions=("maximize",))
    figures = {key: build(single) for key, build in FIGURES.items()}
    layout = figures["pareto_front"]["layout"]
    assert "parameters" in layout["xaxis"]["title"]["text"] and "accuracy" in layout["yaxis"]["title"]["text"]
    assert figures["hypervolume"]["data"][0]["y"][-1] > 0


def test_a_model_that_learned_nothing_does_not_stretch_the_axes_or_join_the_front(made_study):
    import dataclasses

    view = read_study(made_study)
    best = max(view.complete, key=lambda p: p.metrics["accuracy"])
    tiny = dataclasses.replace(best, number=999, metrics=dict(best.metrics) | {"accuracy": 0.11, "params": 500.0})
    from scalesearch.search.results.useful import floor_of

    floor = floor_of([p.metrics["accuracy"] for p in view.complete])
    with_tiny = dataclasses.replace(view, points=(*view.points, tiny), floor=floor)
    assert 999 not in {p.number for p in with_tiny.front()}  # Pareto-optimal only for being tiny
    layout = figure_data(with_tiny)["pareto_front"]["layout"]
    assert layout["yaxis"]["range"][0] > 0.11 and layout["xaxis"]["range"][0] > 2.7  # log10(500) = 2.7
    import re

    title = " ".join(re.sub(r"<[^>]+>", " ", layout["title"]["text"]).split())
    aside = len(with_tiny.set_aside)
    assert aside >= 1 and f"{aside} trial{'s' * (aside > 1)} below accuracy {floor:.2f} set aside" in title


def test_scaling_says_when_trials_fall_off_its_axes(made_study):
    """Its axes span the useful models: a family's legend counts the points drawn (it said
    'resnet (3 trials)' with 2 in view) and the note says how many fall off, as the Pareto figure does."""
    import dataclasses
    import math
    import re

    from scalesearch.search.results.figure_style import plural
    from scalesearch.search.results.useful import floor_of

    view = read_study(made_study)
    best = max(view.complete, key=lambda p: p.metrics["accuracy"])
    tiny = dataclasses.replace(best, number=999, metrics=dict(best.metrics) | {"accuracy": 0.11, "params": 500.0})
    floor = floor_of([p.metrics["accuracy"] for p in view.complete])
    figure = figure_data(dataclasses.replace(view, points=(*view.points, tiny), floor=floor))["scaling"]
    layout = figure["layout"]
    (x_low, x_high), (y_low, y_high) = layout["xaxis"]["range"], layout["yaxis"]["range"]
    off = 0
    for trace in (t for t in figure["data"] if t.get("xaxis") == "x" and t["mode"] == "markers"):
        inside = sum(x_low <= math.log10(x) <= x_high and y_low <= math.log10(y) <= y_high
                     for x, y in zip(trace["x"], trace["y"], strict=True))
        assert trace["name"] == f"{trace['legendgroup']} ({plural(inside, 'trial')})"
        off += len(trace["x"]) - inside
    title = " ".join(re.sub(r"<[^>]+>", " ", layout["title"]["text"]).split())
    assert off >= 1 and f"{plural(off, 'trial')} off the axes (below accuracy {floor:.2f}" in title, title


def test_parallel_coordinates_share_width_and_depth_and_log_their_costs(made_study):
    """Width and depth on one axis each for every family (optuna-dashboard's own view leaves out
    resnet.width_multiplier and convnext.width_multiplier), params on a log axis."""
    import math

    view = read_study(made_study)
    assert len({p.family for p in view.complete}) > 1
    (trace,) = figure_data(view)["parallel"]["data"]
    dims = {d["label"].replace("<br>", " "): d for d in trace["dimensions"]}
    assert {"family", "width (log)", "depth"} <= set(dims), list(dims)  # width spans a decade: log
    widths = [p.width for p in view.complete if view.values(p) is not None]
    assert dims["width (log)"]["values"] == pytest.approx([math.log10(w) for w in widths], rel=1e-5)
    assert not any("." in label for label in dims)  # no per-family knob
    params = dims["params (log)"]
    points = [p for p in view.complete if view.values(p) is not None]
    assert params["values"] == pytest.approx([math.log10(p.metrics["params"]) for p in points], rel=1e-5)
    assert params["ticktext"] and len(params["tickvals"]) >= 3  # rounded labels at log positions
