"""The public CourierSessionService: one bidirectional stream per courier app.

The call's own task reads the app's messages: pings and heartbeats, most of what a
session ever sees, are handled inline. What goes down (SessionStarted, acks, offers,
SessionClosing) is written by a task that exists only while something is queued, so a
quiet session costs one task, not two. When the writer has written the end of the
stream (SessionClosing, or the end of a failed session) it stops the reading, and the
call ends as the session says: OK, or with the session's failure.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterable, Callable

from lastmile.fleet.v1 import courier_session_pb2_grpc as session_pb2_grpc
from services.fleet.entrypoints.session_requests import SessionRequest, read_request
from services.fleet.entrypoints.session_responses import response_message
from services.fleet.service_layer.courier_inbox import CourierInbox
from services.fleet.service_layer.session import Session
from services.fleet.service_layer.session_messages import Outgoing
from services.fleet.service_layer.sessions import SessionDesk
from services.runtime.auth import require_role
from services.runtime.context import Role
from services.runtime.errors import DomainError
from services.runtime.grpc_types import ServicerContext

log = logging.getLogger("lastmile.fleet")


class CourierSessionServicer(session_pb2_grpc.CourierSessionServiceServicer):
    """Reads up messages in the call's task; a _Writer writes what the session queues."""

    def __init__(
        self,
        sessions: SessionDesk,
        inbox: CourierInbox,
        now_ns: Callable[[], int],
        *,
        error_domain: str,
    ) -> None:
        # The wall clock in nanoseconds, for each response's send_time: a ping's ack is
        # stamped without a datetime.
        self._sessions, self._inbox, self._now_ns = sessions, inbox, now_ns
        self._error_domain = error_domain

    async def Connect(  # type: ignore[override]  # writes with context.write()
        self,
        request_iterator: AsyncIterable[SessionRequest],
        context: ServicerContext,
    ) -> None:
        # Written with context.write() rather than yielded: a cancelled call then always
        # unwinds inside this task, so per-call context is reset where it was set.
        caller = require_role(Role.COURIER)
        session = await self._sessions.open(caller.account_id)
        task = session.task = asyncio.current_task()
        assert task is not None
        writer = _Writer(session, context, task, self._now_ns, self._error_domain)
        session.queue.on_ready = writer.wake
        writer.wake()  # SessionStarted is queued already
        try:
            try:
                await self._read(session, request_iterator)
            except asyncio.CancelledError:
                # The writer stops the reading once the stream is over; anyone else's
                # cancellation (the call's, the session watch's) goes on.
                if not writer.stopped_reading or task.cancelling() > 1:
                    raise
                task.uncancel()
            writer.reading = False
            await writer.finished()
            if writer.error is not None:
                raise writer.error
        finally:
            writer.reading = False
            session.queue.on_ready = None
            writer.cancel()
            self._sessions.ended(session)

    async def _read(self, session: Session, requests: AsyncIterable[SessionRequest]) -> None:
        inbox = self._inbox
        try:
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


class _Writer:
    """Writes one session's queued messages from a task started when something is
    queued and ended when nothing is left."""

    __slots__ = (
        "_context",
        "_done",
        "_env",
        "_error_domain",
        "_now_ns",
        "_reader",
        "_session",
        "_task",
        "ended",
        "error",
        "reading",
        "stopped_reading",
    )

    def __init__(
        self,
        session: Session,
        context: ServicerContext,
        reader: asyncio.Task[object],
        now_ns: Callable[[], int],
        error_domain: str,
    ) -> None:
        self._session, self._context, self._reader = session, context, reader
        self._now_ns, self._error_domain = now_ns, error_domain
        # The call's context variables (request context, trace), for every write, whoever
        # queued the message.
        self._env = contextvars.copy_context()
        self._task: asyncio.Task[None] | None = None
        self._done: asyncio.Future[None] | None = None
        self.ended = False  # the stream is over: nothing more is written
        self.error: BaseException | None = None  # what the call ends with, if not OK
        self.reading = True  # the call's task is still reading the app's messages
        self.stopped_reading = False

    def wake(self) -> None:
        if self._task is None and not self.ended:
            self._task = asyncio.create_task(self._run(), context=self._env)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def finished(self) -> None:
        """Until the stream is over (the session has queued its end by now)."""
        if not self.ended:
            self._done = asyncio.get_running_loop().create_future()
            self.wake()
            await self._done

    async def _run(self) -> None:
        session = self._session
        try:
            over = await session.write_queued(self._write)
        except DomainError as failure:  # the session's own failure, after its last message
            self.error, over = failure, True
        except Exception as broken:  # the stream broke under the write
            session.end_reason = "error"
            self.error, over = broken, True
        self._task = None
        if not over:
            return
        self.ended = True
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
        if self.reading:
            self.stopped_reading = True
            self._reader.cancel()

    async def _write(self, message: Outgoing) -> None:
        response = response_message(message, self._now_ns(), error_domain=self._error_domain)
        await self._context.write(response)
