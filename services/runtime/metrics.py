"""Prometheus metrics of the runtime and the admin HTTP server that exposes them.

Names follow go-grpc-prometheus, so that stock dashboards and alerts apply unchanged.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import accumulate
from socketserver import ThreadingMixIn
from typing import Any, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, Gauge, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

SERVER_CALL_LABELS = ("grpc_service", "grpc_method", "grpc_type")
HANDLING_SECONDS_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
)  # fmt: skip

# The "le" texts prometheus_client's Histogram writes ("0.001", "1.0"): dashboards match them.
_go_float = cast(Callable[[float], str], floatToGoString)
_BUCKET_LABELS = [*(_go_float(bound) for bound in HANDLING_SECONDS_BUCKETS), "+Inf"]


class CallCount:
    """The calls started for one (service, method, type)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


class CallDurations:
    """The calls handled for one (service, method, type, code) and how long each took:
    per-bucket counts (not cumulative; the last is +Inf) and their sum."""

    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * (len(HANDLING_SECONDS_BUCKETS) + 1)
        self.count = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        # bisect_left: a duration equal to a bound counts in that bucket (Prometheus's "le").
        self.buckets[bisect_left(HANDLING_SECONDS_BUCKETS, seconds)] += 1
        self.count += 1
        self.sum += seconds


class ServerCalls(Collector):
    """grpc_server_started_total, grpc_server_handled_total and grpc_server_handling_seconds,
    with go-grpc-prometheus's names and labels. The call pipeline counts in plain integers
    on the event loop and the families are built when /metrics is scraped: a prometheus_client
    Counter or Histogram takes a lock and a stack of calls per increment, four times a call,
    which cost more than the rest of the metrics work together (`runtime-pieces`)."""

    def __init__(self) -> None:
        self._started: dict[tuple[str, ...], CallCount] = {}
        self._handled: dict[tuple[str, ...], CallDurations] = {}

    def started(self, service: str, method: str, kind: str) -> CallCount:
        """The count to increment for calls of this kind; kept, so look it up once."""
        labels = (service, method, kind)
        return self._started.get(labels) or self._started.setdefault(labels, CallCount())

    def handled(self, service: str, method: str, kind: str, code: str) -> CallDurations:
        """The durations to observe for calls that ended with `code`; kept, so look it up once."""
        labels = (service, method, kind, code)
        return self._handled.get(labels) or self._handled.setdefault(labels, CallDurations())

    def collect(self) -> Iterator[Metric]:
        started = CounterMetricFamily(
            "grpc_server_started", "RPCs started on the server.", labels=SERVER_CALL_LABELS
        )
        # list(): the loop thread may add a label set while the admin thread scrapes.
        for labels, calls in list(self._started.items()):
            started.add_metric(labels, calls.count)
        handled = CounterMetricFamily(
            "grpc_server_handled",
            "RPCs completed on the server, by status code.",
            labels=(*SERVER_CALL_LABELS, "grpc_code"),
        )
        seconds = HistogramMetricFamily(
            "grpc_server_handling_seconds",
            "Time from the start of an RPC to its status, by status code.",
            labels=(*SERVER_CALL_LABELS, "grpc_code"),
        )
        bounds = _BUCKET_LABELS
        for labels, durations in list(self._handled.items()):
            cumulative = list(accumulate(durations.buckets))
            handled.add_metric(labels, durations.count)
            seconds.add_metric(
                labels, list(zip(bounds, cumulative, strict=True)), sum_value=durations.sum
            )
        yield from (started, handled, seconds)


SERVER_CALLS = ServerCalls()
REGISTRY.register(SERVER_CALLS)
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
