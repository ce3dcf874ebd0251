"""Serve optuna-dashboard on a study storage (127.0.0.1 unless told otherwise).

optuna-dashboard 0.21 lays out a study's page in a fixed order: its own Pareto front (linear axes,
490 px), history (490 px), then importance and timeline side by side (562 px), and only then the
figures saved with ``save_plotly_graph_object``, in the order of a Python ``set`` of their ids
(``list_graph_object_ids``: it changes with each server process). So at 1600x1000 the first view
never shows the study's own figures (the first one's top measured at 1,740 px), whatever the
figures' ids, save order or heights. :func:`study_figures_first` puts them first on the pages this
server sends: a style sheet (CSS ``order``; the page's structure and data are untouched) moves the
grid that holds them above the built-in cards, with the figures in :data:`FIGURE_ORDER`.
"""

from __future__ import annotations

import json
import wsgiref.simple_server
from collections.abc import Callable
from typing import Any

from scalesearch.errors import ScalesearchError
from scalesearch.search.storage.storage import open_storage

#: The study's figure ids (search/results/figures.py FIGURES), in the order the study page shows
#: them; listed here because the storage layer does not import the results layer.
FIGURE_ORDER = ("pareto_front", "hypervolume", "learning_curves", "scaling", "parallel", "importance")
_PLOT = '[id^="user-defined-plot:"]'


#: Said beside optuna-dashboard's toggles, which stay above its own plots (they change none of ours),
#: in our words: its PRUNED is scalesearch's "stopped early", never compression's pruning; and its
#: importance plot (every knob, for each objective) is not the one to read for costs.
TOGGLES_NOTE = ("Optuna's own plots below. Its toggles change only them; 'PRUNED' there means "
                "stopped early (early stopping), not pruned (compression). Its importance plot ranks every "
                "knob for every objective, even knobs that cannot change a cost (lr for params): for costs, "
                "read our importance figure above.")


def figures_first_css(order: tuple[str, ...] = FIGURE_ORDER) -> str:
    """The style sheet: on optuna-dashboard's study page (a flex column of toggles, cards and a
    grid), the grid holding the saved figures (grid > item > card > content > figure) comes first,
    and within it the figures, in ``order``; the toggles ("Log y scale", "Include PRUNED trials")
    stay with the built-in plots they change, with a line saying so (:data:`TOGGLES_NOTE`)."""
    rules = [f"div:has(> div > div > div > div > {_PLOT}) > fieldset::before {{ content: {json.dumps(TOGGLES_NOTE)};"
             " font-size: 12px; color: #666; margin-right: auto; align-self: center; padding-left: 8px; flex: 1 1 0; }",
             f"div:has(> div > div > div > {_PLOT}) {{ order: -1; }}",
             f"div:has(> div > div > {_PLOT}) {{ order: -1; }}"]
    rules += [f'div:has(> div > div > [id="user-defined-plot:{key}"]) {{ order: {i - len(order) - 1}; }}'
              for i, key in enumerate(order)]
    return "<style>/* scalesearch: the study's own figures first */\n" + "\n".join(rules) + "\n</style>"


def study_figures_first(app: Callable[..., Any], css: str | None = None) -> Callable[..., Any]:
    """``app`` (optuna-dashboard's WSGI app) with :func:`figures_first_css` in its HTML pages."""
    style = (css or figures_first_css()).encode()

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not environ.get("PATH_INFO", "").startswith("/dashboard"):
            return app(environ, start_response)
        # Always the full page (no 304 for a copy cached without the style).
        environ = {k: v for k, v in environ.items() if k not in ("HTTP_IF_MODIFIED_SINCE", "HTTP_IF_NONE_MATCH")}
        sent: dict[str, Any] = {}
        chunks: list[bytes] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            sent.update(status=status, headers=headers)
            return chunks.append

        result = app(environ, capture)
        try:
            chunks.extend(result)
        finally:
            getattr(result, "close", lambda: None)()
        body, headers = b"".join(chunks), sent["headers"]
        html = any(k.lower() == "content-type" and v.startswith("text/html") for k, v in headers)
        if html and b"</head>" in body:
            body = body.replace(b"</head>", style + b"</head>", 1)
            headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "etag", "last-modified")]
            headers.append(("Content-Length", str(len(body))))
        start_response(sent["status"], headers)
        return [body]

    return wrapped


class DashboardError(ScalesearchError):
    """The dashboard cannot start (e.g. the port is taken)."""


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


def make_server(storage_url: str | None, host: str = "127.0.0.1", port: int = 8080) -> Any:
    """A ready (not yet serving) WSGI server for optuna-dashboard on ``storage_url``, the study's
    own figures first on its study pages (:func:`study_figures_first`)."""
    from optuna_dashboard import wsgi

    app = study_figures_first(wsgi(open_storage(storage_url)))
    try:
        return wsgiref.simple_server.make_server(host, port, app, handler_class=_QuietHandler)
    except OSError as e:
        raise DashboardError(f"dashboard: cannot listen on {host}:{port} ({e.strerror or e}); "
                             f"choose another with --port") from None


def serve(storage_url: str | None, host: str = "127.0.0.1", port: int = 8080,
          announce: Callable[[str], None] = print) -> None:
    """Serve until interrupted; ``announce`` receives the URL once listening."""
    server = make_server(storage_url, host, port)
    announce(f"http://{host}:{server.server_port}/")
    try:
        server.serve_forever()
    finally:
        server.server_close()
