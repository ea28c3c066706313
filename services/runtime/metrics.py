"""Prometheus metrics of the runtime and the admin HTTP server that exposes them.

Names follow go-grpc-prometheus, so that stock dashboards and alerts apply unchanged.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Gauge, Histogram, start_http_server

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


@dataclass
class AdminServer:
    """The /metrics endpoint on the admin port; stopped with the service."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_admin_server(host: str, port: int) -> AdminServer:
    server, thread = start_http_server(port, addr=host)
    return AdminServer(server, thread)
