"""Open Links: one per fleet replica, each with an outbound queue bounded so that a
replica that stops reading never blocks matching."""

from __future__ import annotations

import asyncio
from datetime import datetime

from services.dispatch import metrics
from services.dispatch.domain.fleet_messages import FleetMessage
from services.dispatch.service_layer.ports import FleetRoutes
from services.runtime.errors import Conflict, DomainError, Unavailable


class LinkReplaced(Conflict):
    """A newer Link from the same fleet replica took over (ABORTED)."""

    def __init__(self, fleet_replica_id: str) -> None:
        super().__init__(f"a newer Link from fleet replica {fleet_replica_id!r} replaced this one")


class LinkSession:
    """One open Link: its replica, what waits to be sent, and how the Link ended."""

    def __init__(self, fleet_replica_id: str, capacity: int, connected_at: datetime) -> None:
        self.fleet_replica_id = fleet_replica_id
        self.connected_at = connected_at
        self.snapshot_at: datetime | None = None
        self.last_message_at = connected_at
        self._capacity = capacity
        self._outbound: asyncio.Queue[FleetMessage] = asyncio.Queue(maxsize=capacity)
        self._ended = asyncio.Event()
        self._error: BaseException | None = None

    def send(self, message: FleetMessage) -> bool:
        if self._ended.is_set():
            return False
        try:
            self._outbound.put_nowait(message)
        except asyncio.QueueFull:
            self.end(
                Unavailable(
                    f"fleet replica fell {self._capacity} messages behind reading its Link; "
                    "reconnect and resnapshot"
                )
            )
            return False
        return True

    def end(self, error: BaseException | None = None) -> None:
        """End the Link; with `error` it ends with that status, else with OK."""
        if not self._ended.is_set():
            self._error = error
            self._ended.set()

    async def next_message(self) -> FleetMessage | None:
        """The next message to send; None once ended cleanly; raises the end's error."""
        if not self._ended.is_set() and not self._outbound.empty():
            return self._outbound.get_nowait()
        if not self._ended.is_set():
            getting = asyncio.ensure_future(self._outbound.get())
            ending = asyncio.ensure_future(self._ended.wait())
            try:
                await asyncio.wait({getting, ending}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                # Also when the Link's handler is cancelled (fleet went away) while waiting:
                # left pending, both would be reported as destroyed once collected.
                ending.cancel()
                if not getting.done():
                    getting.cancel()
            if getting.done() and not self._ended.is_set():
                return getting.result()
        if self._error is not None:
            raise self._error
        return None


class LinkRegistry(FleetRoutes):
    """The open Links by fleet replica id; a new Link replaces the replica's old one."""

    def __init__(self) -> None:
        self._sessions: dict[str, LinkSession] = {}

    def open(self, session: LinkSession) -> None:
        replaced = self._sessions.get(session.fleet_replica_id)
        if replaced is not None:
            replaced.end(LinkReplaced(session.fleet_replica_id))
        self._sessions[session.fleet_replica_id] = session
        metrics.FLEET_LINKS.set(len(self._sessions))

    def close(self, session: LinkSession) -> bool:
        """Forget `session`; False if a newer Link of its replica already replaced it."""
        if self._sessions.get(session.fleet_replica_id) is not session:
            return False
        del self._sessions[session.fleet_replica_id]
        metrics.FLEET_LINKS.set(len(self._sessions))
        return True

    def sessions(self) -> list[LinkSession]:
        return list(self._sessions.values())

    def send(self, fleet_replica_id: str, message: FleetMessage) -> bool:
        session = self._sessions.get(fleet_replica_id)
        return session is not None and session.send(message)

    def end_all(self, error: DomainError) -> None:
        for session in self._sessions.values():
            session.end(error)
