"""Serve optuna-dashboard on a study storage (127.0.0.1 unless told otherwise)."""

from __future__ import annotations

import wsgiref.simple_server
from collections.abc import Callable
from typing import Any

from scalesearch.errors import ScalesearchError
from scalesearch.search.storage.storage import open_storage


class DashboardError(ScalesearchError):
    """The dashboard cannot start (e.g. the port is taken)."""


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


def make_server(storage_url: str | None, host: str = "127.0.0.1", port: int = 8080) -> Any:
    """A ready (not yet serving) WSGI server for optuna-dashboard on ``storage_url``."""
    from optuna_dashboard import wsgi

    app = wsgi(open_storage(storage_url))
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
