"""Request id, deadline capture and the access log: one JSON line per finished call."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.runtime import context
from services.runtime.interceptors.base import AroundCallInterceptor, Call, final_code

REQUEST_ID_HEADER = "x-request-id"
# Health checks arrive every few seconds from probes and sidecars; log them at DEBUG.
_QUIET_SERVICES = frozenset({"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"})

access_log = logging.getLogger("lastmile.access")


class RequestContextInterceptor(AroundCallInterceptor):
    """Binds request id, method and deadline to the call, and writes its access log."""

    @asynccontextmanager
    async def around(self, call: Call) -> AsyncIterator[None]:
        request_id = call.header(REQUEST_ID_HEADER) or uuid.uuid4().hex
        started = time.monotonic()
        remaining = call.context.time_remaining()
        tokens = (
            context.request_id.set(request_id),
            context.rpc_method.set(call.method),
            context.deadline.set(started + remaining if remaining is not None else None),
        )
        error: BaseException | None = None
        try:
            yield
        except BaseException as escaped:
            error = escaped
            raise
        finally:
            code = final_code(call.context, error)
            level = logging.DEBUG if call.service in _QUIET_SERVICES else logging.INFO
            if access_log.isEnabledFor(level):
                access_log.log(
                    level,
                    "%s %s",
                    call.method,
                    code.name,
                    extra={
                        "rpc": call.method,
                        "code": code.name,
                        "duration_ms": round((time.monotonic() - started) * 1000, 3),
                        "peer": call.context.peer(),
                    },
                )
            context.deadline.reset(tokens[2])
            context.rpc_method.reset(tokens[1])
            context.request_id.reset(tokens[0])
