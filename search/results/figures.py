"""A study's figures, for optuna-dashboard and for ``scalesearch report``.

:data:`FIGURES` maps a stable key to a builder over a :class:`~.study_view.StudyView`; the key is
also the figure's id in the dashboard, so publishing again *replaces* each figure (optuna-dashboard
overwrites the chunks stored under a ``graph_object_id`` and blanks any left over) instead of
adding copies. Example::

    figures = build_figures(study)        # {"pareto_front": go.Figure, ...}
    publish_figures(study)                # into optuna-dashboard, after each finished trial

Publishing is cheap: the study is read once, figures are built from plain data, and a figure
whose JSON did not change since this process last stored it is not written again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from scalesearch.errors import ReportError
from scalesearch.search.config.spec import StudySpec
from scalesearch.search.results import figure_style as style
from scalesearch.search.results.figures_front import pareto_figure
from scalesearch.search.results.figures_parallel import parallel_figure
from scalesearch.search.results.figures_runs import hypervolume_figure, learning_curves_figure
from scalesearch.search.results.figures_scaling import importance_figure, scaling_figure
from scalesearch.search.results.study_view import StudyView, read_study

#: Key (the dashboard's graph id, the report's anchor and PNG name) -> builder. Order = display order.
#: A builder returns None when its figure cannot mean anything yet (importance on too few trials).
FIGURES: dict[str, Callable[[StudyView], dict[str, Any] | None]] = {
    "pareto_front": pareto_figure,
    "hypervolume": hypervolume_figure,
    "learning_curves": learning_curves_figure,
    "scaling": scaling_figure,
    "parallel": parallel_figure,
    "importance": importance_figure,
}

#: (study object, study name, figure key) -> hash of the JSON this process last stored.
_published: dict[tuple[int, str, str], str] = {}


def figure_data(view: StudyView) -> dict[str, dict[str, Any]]:
    """Every figure that can be drawn, as plotly's plain data (``{"data": [...], "layout": {...}}``)."""
    if not view.complete:
        raise ReportError(f"study {view.name!r} has no complete trial yet; figures need one "
                          f"(finished so far: {len(view.points)} {style.STOPPED}); run it further")
    built = {key: build(view) for key, build in FIGURES.items()}
    return {key: style.compact(figure) for key, figure in built.items() if figure is not None}


def build_figures(study: Any, spec: StudySpec | None = None) -> dict[str, Any]:
    """``{key: plotly.graph_objects.Figure}`` for ``study`` (any storage, running or finished).

    Raises :class:`ReportError` when no trial is complete yet.
    """
    import plotly.graph_objects as go

    return {key: go.Figure(data) for key, data in figure_data(read_study(study, spec)).items()}


def publish_figures(study: Any, spec: StudySpec | None = None) -> list[str]:
    """Store (replace) every figure in optuna-dashboard; returns the keys written.

    Does nothing before the first complete trial. Figures unchanged since this process last
    stored them are skipped.
    """
    import plotly.graph_objects as go
    from optuna_dashboard import save_plotly_graph_object

    view = read_study(study, spec)
    if not view.complete:
        return []
    written = []
    for key, data in figure_data(view).items():
        figure = go.Figure(data)
        text = figure.to_json()
        digest = hashlib.sha1(text.encode()).hexdigest()
        slot = (id(study), study.study_name, key)
        if _published.get(slot) == digest:
            continue
        save_plotly_graph_object(study, figure, graph_object_id=key)
        _published[slot] = digest
        written.append(key)
    return written
