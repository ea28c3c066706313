"""Serving one Link: the replica's reports go into the term, its messages come out of
its session's queue, concurrently, until either side ends the Link."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from services.dispatch.domain.fleet_messages import FleetMessage
from services.dispatch.domain.fleet_reports import (
    CourierUpdate,
    Hello,
    LinkReport,
    OfferAnswer,
    PositionFixes,
    SnapshotChunk,
)
from services.dispatch.service_layer.link_protocol import LinkProtocol, LinkProtocolViolation
from services.dispatch.service_layer.link_sessions import LinkRegistry, LinkSession
from services.dispatch.service_layer.ports import Clock
from services.dispatch.service_layer.term import Term
from services.runtime.errors import DomainError

log = logging.getLogger("lastmile.dispatch.links")


class FleetLink:
    """One Link from hello to its end."""

    def __init__(self, term: Term, registry: LinkRegistry, capacity: int, clock: Clock) -> None:
        self._term, self._registry = term, registry
        self._capacity, self._clock = capacity, clock

    async def serve(self, reports: AsyncIterator[LinkReport]) -> AsyncIterator[FleetMessage]:
        protocol = LinkProtocol()
        first = await anext(reports, None)
        if first is None:
            return
        if not isinstance(first, Hello):
            raise LinkProtocolViolation("the first message of a Link must be hello")
        protocol.hello(first.fleet_replica_id)
        session = LinkSession(first.fleet_replica_id, self._capacity, self._clock())
        self._registry.open(session)
        self._term.fleet.link_opened(session.fleet_replica_id)
        log.info("fleet Link opened", extra={"fleet_replica_id": session.fleet_replica_id})
        reader = asyncio.create_task(self._read(session, protocol, reports))
        try:
            while (message := await session.next_message()) is not None:
                yield message
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            if self._registry.close(session) and self._term.active:
                self._term.fleet.link_closed(session.fleet_replica_id)
            log.info("fleet Link closed", extra={"fleet_replica_id": session.fleet_replica_id})

    async def _read(
        self, session: LinkSession, protocol: LinkProtocol, reports: AsyncIterator[LinkReport]
    ) -> None:
        replica = session.fleet_replica_id
        try:
            async for report in reports:
                session.last_message_at = self._clock()
                if not self._term.active:
                    return
                match report:
                    case PositionFixes(fixes=fixes):
                        protocol.live("positions")
                        self._term.fleet.positions(replica, fixes)
                    case CourierUpdate(courier=courier):
                        protocol.live("courier_changed")
                        self._term.fleet.changed(courier)
                    case OfferAnswer():
                        protocol.live("offer_response")
                        self._term.answers.handle(replica, report)
                    case SnapshotChunk():
                        couriers = protocol.snapshot(report)
                        if couriers is not None:
                            self._term.fleet.snapshot(replica, couriers)
                            session.snapshot_at = self._clock()
                    case Hello():
                        protocol.hello(report.fleet_replica_id)
            session.end()
        except DomainError as refused:
            # A protocol violation, or the drain: the Link ends with that status.
            session.end(refused)
        except Exception as failure:
            log.exception("fleet Link failed", extra={"fleet_replica_id": replica})
            session.end(failure)  # INTERNAL, through the error mapping
