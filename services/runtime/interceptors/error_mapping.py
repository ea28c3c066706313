"""Turns domain errors into precise statuses with details; hides unexpected faults.

This is the one place where exceptions become status codes. An unexpected exception is
logged with its stack trace and reported as INTERNAL with only the request id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc

from services.runtime import context
from services.runtime.errors import DomainError
from services.runtime.interceptors.base import AroundCallInterceptor, Call
from services.runtime.status import to_grpc_status

log = logging.getLogger("lastmile.errors")


class ErrorMappingInterceptor(AroundCallInterceptor):
    """Aborts with the mapped status when a handler raises."""

    def __init__(self, domain: str) -> None:
        # ErrorInfo.domain, e.g. "pricing.lastmile.dev".
        self._domain = domain

    @asynccontextmanager
    async def around(self, call: Call) -> AsyncIterator[None]:
        try:
            yield
        except (grpc.aio.AbortError, asyncio.CancelledError, GeneratorExit):
            raise
        except DomainError as error:
            status = to_grpc_status(error, domain=self._domain)
            await call.context.abort(status.code, status.details, status.trailing_metadata)
        except Exception:
            log.exception("unhandled error in %s", call.method)
            await call.context.abort(
                grpc.StatusCode.INTERNAL,
                f"internal error; quote request id {context.request_id.get()} to operators",
            )
