"""Turns domain errors into precise statuses with details; hides unexpected faults.

This is the one place where exceptions become status codes. A failure to reach a
dependency (`dependencies.unreachable_dependency`) is UNAVAILABLE with RetryInfo, and the
dependency monitor hears of it (it logs the outage once, not once per call). Any other
unexpected exception is logged with its stack trace and reported as INTERNAL with only the
request id.
"""

from __future__ import annotations

import logging

import grpc

from services.runtime import context
from services.runtime.dependencies import unavailable, unreachable_dependency
from services.runtime.dependency_monitor import DependencyMonitor
from services.runtime.errors import DomainError
from services.runtime.interceptors.base import Call, ErrorTranslator
from services.runtime.status import to_grpc_status

log = logging.getLogger("lastmile.errors")


class ErrorMapping(ErrorTranslator):
    """Aborts with the mapped status when a handler raises."""

    def __init__(self, domain: str, dependencies: DependencyMonitor | None = None) -> None:
        # ErrorInfo.domain, e.g. "pricing.lastmile.dev".
        self._domain = domain
        self._dependencies = dependencies or DependencyMonitor()

    async def abort(self, call: Call, error: Exception) -> None:
        if not isinstance(error, DomainError):
            dependency = unreachable_dependency(error)
            if dependency is not None:
                self._dependencies.call_failed(dependency, error)
                error = unavailable(dependency)
        if isinstance(error, DomainError):
            status = to_grpc_status(error, domain=self._domain)
            await call.context.abort(status.code, status.details, status.trailing_metadata)
        log.error("unhandled error in %s", call.method, exc_info=error)
        await call.context.abort(
            grpc.StatusCode.INTERNAL,
            f"internal error; quote request id {context.request_id.get()} to operators",
        )
