"""The public CourierSessionService: one bidirectional stream per courier app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, Callable
from datetime import datetime

from lastmile.fleet.v1 import courier_session_pb2 as session_pb2
from lastmile.fleet.v1 import courier_session_pb2_grpc as session_pb2_grpc
from services.contracts import common_v1
from services.fleet.entrypoints.session_requests import read_request
from services.fleet.entrypoints.session_responses import response_message
from services.fleet.service_layer.courier_inbox import CourierInbox
from services.fleet.service_layer.session import Session
from services.fleet.service_layer.sessions import SessionDesk
from services.runtime.auth import require_role
from services.runtime.context import Role
from services.runtime.errors import DomainError
from services.runtime.grpc_types import ServicerContext

log = logging.getLogger("lastmile.fleet")


class CourierSessionServicer(session_pb2_grpc.CourierSessionServiceServicer):
    """Reads up messages in a task of the session, writes what the session queues."""

    def __init__(
        self,
        sessions: SessionDesk,
        inbox: CourierInbox,
        clock: Callable[[], datetime],
        *,
        error_domain: str,
    ) -> None:
        self._sessions, self._inbox, self._clock = sessions, inbox, clock
        self._error_domain = error_domain

    async def Connect(  # type: ignore[override]  # writes with context.write()
        self,
        request_iterator: AsyncIterable[session_pb2.ConnectRequest],
        context: ServicerContext,
    ) -> None:
        # Written with context.write() rather than yielded: a cancelled call then always
        # unwinds inside this task, so per-call context is reset where it was set.
        caller = require_role(Role.COURIER)
        session = await self._sessions.open(caller.account_id)
        session.task = asyncio.current_task()
        reader = asyncio.create_task(self._read(session, request_iterator))
        try:
            async for message in session.outgoing():
                sent = common_v1.timestamp_message(self._clock())
                await context.write(
                    response_message(message, sent, error_domain=self._error_domain)
                )
        except (DomainError, asyncio.CancelledError):
            raise
        except Exception:
            session.end_reason = "error"
            raise
        finally:
            reader.cancel()
            self._sessions.ended(session)

    async def _read(
        self, session: Session, requests: AsyncIterable[session_pb2.ConnectRequest]
    ) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            try:
                inbox = self._inbox
                async for request in requests:
                    message_id, command = read_request(request)
                    # Pings and heartbeats are handled inline; only changes are awaited.
                    tracked = inbox.receive_inline(session, message_id, command)
                    if tracked is not None:
                        await inbox.change(tracked, session, message_id, command)
                    if session.closed_at is not None:
                        return
            except Exception:  # the stream broke under us; the writer side reports it
                log.debug("session read ended", exc_info=True)
            session.end_by_client()
