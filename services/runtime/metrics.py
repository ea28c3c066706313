"""Prometheus metrics of the runtime and the admin HTTP server that exposes them.

Names follow go-grpc-prometheus, so that stock dashboards and alerts apply unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import Counter, Gauge, Histogram, make_wsgi_app

SERVER_STARTED = Counter(
    "grpc_server_started_total",
    "RPCs started on the server.",
    ["grpc_service", "grpc_method", "grpc_type"],
)
SERVER_HANDLED = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, by status code.",
    ["grpc_service", "grpc_method", "grpc_type", "grpc_code"],
)
SERVER_HANDLING_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time from the start of an RPC to its status, by status code.",
    ["grpc_service", "grpc_method", "grpc_type", "grpc_code"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
SERVER_DRAINING = Gauge(
    "lastmile_server_draining",
    "1 while the server is draining for shutdown, 0 otherwise.",
)


AdminDocument = Callable[[], tuple[str, bytes]]  # returns (content type, body)


class _QuietHandler(WSGIRequestHandler):
    """No per-request stderr lines: scrapes every few seconds would drown the logs."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@dataclass
class AdminServer:
    """The admin HTTP port: /metrics, plus any documents a service adds (identity adds
    its JWKS). Runs in a thread of its own; stopped with the service."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_admin_server(
    host: str, port: int, documents: Mapping[str, AdminDocument] | None = None
) -> AdminServer:
    metrics_app = make_wsgi_app()
    extra = dict(documents or {})

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in extra:
            content_type, body = extra[path]()
            start_response(
                "200 OK",
                [("Content-Type", content_type), ("Content-Length", str(len(body))),
                 ("Cache-Control", "max-age=60")],
            )  # fmt: skip
            return [body]
        result: Iterable[bytes] = metrics_app(environ, start_response)
        return result

    server = make_server(host, port, app, _ThreadingWSGIServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="admin-http", daemon=True)
    thread.start()
    return AdminServer(server, thread)
