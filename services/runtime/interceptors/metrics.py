"""Counts and times every call per service, method, type and status code."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.runtime import metrics
from services.runtime.interceptors.base import AroundCallInterceptor, Call, final_code


class MetricsInterceptor(AroundCallInterceptor):
    """Feeds grpc_server_{started,handled}_total and grpc_server_handling_seconds."""

    @asynccontextmanager
    async def around(self, call: Call) -> AsyncIterator[None]:
        labels = (call.service, call.method_name, call.kind)
        metrics.SERVER_STARTED.labels(*labels).inc()
        started = time.monotonic()
        error: BaseException | None = None
        try:
            yield
        except BaseException as escaped:
            error = escaped
            raise
        finally:
            code = final_code(call.context, error).name
            metrics.SERVER_HANDLED.labels(*labels, code).inc()
            metrics.SERVER_HANDLING_SECONDS.labels(*labels, code).observe(
                time.monotonic() - started
            )
