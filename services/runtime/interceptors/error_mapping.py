"""Turns domain errors into precise statuses with details; hides unexpected faults.

This is the one place where exceptions become status codes. An unexpected exception is
logged with its stack trace and reported as INTERNAL with only the request id.
"""

from __future__ import annotations

import logging

import grpc

from services.runtime import context
from services.runtime.errors import DomainError
from services.runtime.interceptors.base import Call, ErrorTranslator
from services.runtime.status import to_grpc_status

log = logging.getLogger("lastmile.errors")


class ErrorMapping(ErrorTranslator):
    """Aborts with the mapped status when a handler raises."""

    def __init__(self, domain: str) -> None:
        # ErrorInfo.domain, e.g. "pricing.lastmile.dev".
        self._domain = domain

    async def abort(self, call: Call, error: Exception) -> None:
        if isinstance(error, DomainError):
            status = to_grpc_status(error, domain=self._domain)
            await call.context.abort(status.code, status.details, status.trailing_metadata)
        log.error("unhandled error in %s", call.method, exc_info=error)
        await call.context.abort(
            grpc.StatusCode.INTERNAL,
            f"internal error; quote request id {context.request_id.get()} to operators",
        )
