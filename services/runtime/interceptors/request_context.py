"""Request id, deadline capture and the access log: one JSON line per finished call."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from services.runtime import context
from services.runtime.interceptors.base import CODE_NAMES, Call, CallObserver
from services.runtime.logs import AccessLog

REQUEST_ID_HEADER = "x-request-id"
# Health checks arrive every few seconds from probes and sidecars; log them at DEBUG.
_QUIET_SERVICES = frozenset({"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"})


def new_request_id() -> str:
    """32 hex digits, as a uuid4's would be, from the generator OpenTelemetry draws trace
    ids from: a correlation id, not a secret, so no system call for entropy per call."""
    return f"{random.getrandbits(128):032x}"


class RequestContext(CallObserver):
    """Binds request id, method and deadline to the call, and writes its access log."""

    def __init__(self, access_log: AccessLog | None = None) -> None:
        self._access_log = access_log or AccessLog()

    def begin(self, call: Call) -> Any:
        request_id = call.header(REQUEST_ID_HEADER) or new_request_id()
        started = time.monotonic()
        remaining = call.context.time_remaining()
        return (
            started,
            context.request_id.set(request_id),
            context.rpc_method.set(call.method),
            context.deadline.set(started + remaining if remaining is not None else None),
        )

    def end(self, call: Call, started: Any, error: BaseException | None) -> None:
        began, request_token, method_token, deadline_token = started
        level = logging.DEBUG if call.service in _QUIET_SERVICES else logging.INFO
        if self._access_log.is_enabled_for(level):
            self._access_log.write(
                level,
                call.method,
                CODE_NAMES[call.final_code(error)],
                round((time.monotonic() - began) * 1000, 3),
                call.context.peer(),
            )
        context.deadline.reset(deadline_token)
        context.rpc_method.reset(method_token)
        context.request_id.reset(request_token)
