"""Counts and times every call per service, method, type and status code."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client.metrics import Counter, Histogram

from services.runtime import metrics
from services.runtime.interceptors.base import CODE_NAMES, Call, CallObserver


class CallMetrics(CallObserver):
    """Feeds grpc_server_{started,handled}_total and grpc_server_handling_seconds."""

    def __init__(self) -> None:
        # Labelled children, cached: .labels() costs a lock and a dict lookup per call.
        self._started: dict[tuple[str, str, str], Counter] = {}
        self._finished: dict[tuple[str, str, str, str], tuple[Counter, Histogram]] = {}

    def begin(self, call: Call) -> Any:
        labels = (call.service, call.method_name, call.kind)
        started = self._started.get(labels)
        if started is None:
            started = self._started[labels] = metrics.SERVER_STARTED.labels(*labels)
        started.inc()
        return time.monotonic()

    def end(self, call: Call, started: Any, error: BaseException | None) -> None:
        labels = (call.service, call.method_name, call.kind, CODE_NAMES[call.final_code(error)])
        children = self._finished.get(labels)
        if children is None:
            children = self._finished[labels] = (
                metrics.SERVER_HANDLED.labels(*labels),
                metrics.SERVER_HANDLING_SECONDS.labels(*labels),
            )
        handled, seconds = children
        handled.inc()
        seconds.observe(time.monotonic() - started)
