"""Counts and times every call per service, method, type and status code."""

from __future__ import annotations

import time
from typing import Any

from services.runtime import metrics
from services.runtime.interceptors.base import CODE_NAMES, Call, CallObserver
from services.runtime.metrics import CallCount, CallDurations, ServerCalls


class CallMetrics(CallObserver):
    """Feeds grpc_server_{started,handled}_total and grpc_server_handling_seconds."""

    def __init__(self, calls: ServerCalls = metrics.SERVER_CALLS) -> None:
        self._calls = calls
        # The counts per label set, cached: building the label tuple is the lookup's cost.
        self._started: dict[str, CallCount] = {}
        self._finished: dict[tuple[str, str], CallDurations] = {}

    def begin(self, call: Call) -> Any:
        started = self._started.get(call.method)
        if started is None:
            started = self._started[call.method] = self._calls.started(
                call.service, call.method_name, call.kind
            )
        started.count += 1
        return time.monotonic()

    def end(self, call: Call, started: Any, error: BaseException | None) -> None:
        code = CODE_NAMES[call.final_code(error)]
        durations = self._finished.get((call.method, code))
        if durations is None:
            durations = self._finished[(call.method, code)] = self._calls.handled(
                call.service, call.method_name, call.kind, code
            )
        durations.observe(time.monotonic() - started)
