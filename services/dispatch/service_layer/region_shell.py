"""The shell around one region's Board while this replica leads it: it feeds the Board
its inputs (orders' events, the fleet Links, timers, AssignCourier's verdicts) and
carries out the effects the Board returns.

Effects run in the order given, with one rule: an offer is sent, and AssignCourier is
called, only once the queue rows the Board persisted before them have committed, so
that a successor knows every offer made and re-runs every assignment begun. Rows are
group-committed: coalesced per delivery, one transaction per batch, through the lease.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opentelemetry.trace import SpanKind
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from services.dispatch import metrics
from services.dispatch.domain.board import Board
from services.dispatch.domain.couriers import CourierStatus
from services.dispatch.domain.deliveries import DeliveryTerms
from services.dispatch.domain.effects import (
    ArmTimer,
    CallAssignCourier,
    CancelTimer,
    CountOffer,
    Effect,
    Persist,
    RecordPositions,
    Send,
    SendOffer,
)
from services.dispatch.domain.fleet_messages import FleetMessage, OfferToCourier
from services.dispatch.domain.fleet_reports import (
    CourierUpdate,
    DeliveryAssignment,
    DeliveryCancellation,
    Hello,
    LinkReport,
    OfferAnswer,
    PositionFixes,
    SnapshotChunk,
)
from services.dispatch.domain.offers import Offer, OfferTerms
from services.dispatch.domain.queue_rows import QueueRow, StoredDelivery
from services.dispatch.domain.verdicts import NotAssigned
from services.dispatch.service_layer.link_protocol import LinkProtocol, LinkProtocolViolation
from services.dispatch.service_layer.link_sessions import LinkRegistry, LinkSession
from services.dispatch.service_layer.ports import (
    AssignmentNotSettled,
    Clock,
    LeaderLease,
    Orders,
    QueueWrite,
)
from services.runtime import trace_context
from services.runtime.errors import DomainError

log = logging.getLogger("lastmile.dispatch.region")


@dataclass(frozen=True)
class MatchingPolicy:
    """The settings a region is matched with."""

    offer_terms: OfferTerms
    max_pickup_meters: float
    sweep_seconds: float
    link_queue_size: int = 1000


class RegionShell:
    """One term of leadership over one region: dropped whole when it ends."""

    def __init__(
        self,
        *,
        lease: LeaderLease,
        links: LinkRegistry,
        orders: Orders,
        policy: MatchingPolicy,
        clock: Clock,
        board: Board | None = None,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        self._lease, self._links, self._orders = lease, links, orders
        self._policy, self._clock = policy, clock
        self._max_backoff = max_backoff_seconds
        self.board = board or Board(
            offer_terms=policy.offer_terms,
            max_pickup_meters=policy.max_pickup_meters,
            started_at=clock(),
        )
        # The journal: the latest row (None: removed) of each delivery changed since the
        # last commit, and the effects that wait for that commit. Both are bounded by the
        # queue.
        self._dirty: dict[str, QueueRow | None] = {}
        self._after_commit: list[SendOffer | CallAssignCourier] = []
        self._wake = asyncio.Event()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.active = False

    # -- the term -----------------------------------------------------------------------

    def start(self, stored: list[StoredDelivery]) -> None:
        self._carry_out(self.board.take_over(stored))
        self._spawn(self._write_queue(), "dispatch-queue-journal")
        self._spawn(self._sweep(), "dispatch-sweep")
        self.active = True

    async def end(self) -> None:
        self.active = False
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- orders' delivery events, once their inbox transaction committed -----------------

    def delivery_created(self, terms: DeliveryTerms, enqueued_at: datetime) -> None:
        if self.active:
            self._carry_out(self.board.delivery_created(terms, enqueued_at, self._clock()))

    def delivery_cancelled(self, cancellation: DeliveryCancellation) -> None:
        if self.active:
            self._carry_out(self.board.delivery_cancelled(cancellation, self._clock()))

    def delivery_assigned(self, assignment: DeliveryAssignment) -> None:
        if self.active:
            self._carry_out(self.board.delivery_assigned(assignment, self._clock()))

    # -- the fleet Links ----------------------------------------------------------------

    async def serve_link(self, reports: AsyncIterator[LinkReport]) -> AsyncIterator[FleetMessage]:
        """One Link from hello to its end: the replica's reports go into the board while
        its messages come out of its session's queue, until either side ends it."""
        protocol = LinkProtocol()
        first = await anext(reports, None)
        if first is None:
            return
        if not isinstance(first, Hello):
            raise LinkProtocolViolation("the first message of a Link must be hello")
        protocol.hello(first.fleet_replica_id)
        session = LinkSession(first.fleet_replica_id, self._policy.link_queue_size, self._clock())
        self._links.open(session)
        self._carry_out(self.board.link_opened(session.fleet_replica_id))
        log.info("fleet Link opened", extra={"fleet_replica_id": session.fleet_replica_id})
        reader = asyncio.create_task(self._read_link(session, protocol, reports))
        try:
            while (message := await session.next_message()) is not None:
                yield message
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            if self._links.close(session) and self.active:
                self._carry_out(self.board.link_closed(session.fleet_replica_id))
            log.info("fleet Link closed", extra={"fleet_replica_id": session.fleet_replica_id})

    async def _read_link(
        self, session: LinkSession, protocol: LinkProtocol, reports: AsyncIterator[LinkReport]
    ) -> None:
        replica, board = session.fleet_replica_id, self.board
        try:
            async for report in reports:
                session.last_message_at = self._clock()
                if not self.active:
                    return
                match report:
                    case PositionFixes(fixes=fixes):
                        protocol.live("positions")
                        self._carry_out(board.positions(replica, fixes, time.time()))
                    case CourierUpdate(courier=courier):
                        protocol.live("courier_changed")
                        self._carry_out(board.courier_changed(courier, self._clock()))
                    case OfferAnswer():
                        protocol.live("offer_response")
                        self._carry_out(board.offer_answered(replica, report, self._clock()))
                    case SnapshotChunk():
                        couriers = protocol.snapshot(report)
                        if couriers is not None:
                            self._carry_out(board.snapshot(replica, couriers, self._clock()))
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

    # -- carrying out effects -----------------------------------------------------------

    def _carry_out(self, effects: list[Effect]) -> None:
        for effect in effects:
            match effect:
                case Persist(delivery_id=delivery_id, row=row):
                    self._dirty[delivery_id] = row
                    self._wake.set()
                case SendOffer() | CallAssignCourier() if self._dirty:
                    self._after_commit.append(effect)
                case _:
                    self._do(effect)

    def _do(self, effect: Effect) -> None:
        match effect:
            case SendOffer():
                self._send_offer(effect)
            case CallAssignCourier(offer=offer):
                self._spawn(self._assign(offer), f"assign-{offer.delivery_id}")
            case Send(fleet_replica_id=replica, message=message):
                self._send(replica, message)
            case ArmTimer(offer_id=offer_id, at=at):
                delay = max(0.0, (at - self._clock()).total_seconds())
                loop = asyncio.get_running_loop()
                self._timers[offer_id] = loop.call_later(delay, self._expire, offer_id)
            case CancelTimer(offer_id=offer_id):
                timer = self._timers.pop(offer_id, None)
                if timer is not None:
                    timer.cancel()
            case CountOffer(outcome=outcome):
                metrics.OFFERS.labels(outcome.value).inc()
            case RecordPositions(lags_seconds=lags):
                observe = metrics.POSITION_INDEX_LATENCY.observe
                for lag in lags:
                    observe(lag)
                metrics.POSITION_UPDATES.inc(len(lags))

    async def _write_queue(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            dirty, self._dirty = self._dirty, {}
            waiting, self._after_commit = self._after_commit, []
            updated = [row for row in dirty.values() if row is not None]
            removed = [delivery_id for delivery_id, row in dirty.items() if row is None]
            try:
                await self._lease.write(QueueWrite(updated, removed))
            except Exception:
                # The lease marks itself lost: this replica steps down and its successor
                # loads the last committed queue. Nothing uncommitted is acted upon.
                log.exception("queue write failed; stepping down")
                return
            for effect in waiting:
                try:
                    self._do(effect)
                except Exception:
                    log.exception("an effect after a queue write failed")

    def _send_offer(self, effect: SendOffer) -> None:
        offer = effect.offer
        if not self.board.is_open(offer.offer_id):
            return  # ended (a cancel, a lost Link) before it became durable
        # In the delivery's trace, whatever made the offer (an event, a courier's report,
        # the sweep); fleet continues it from the message.
        with trace_context.continued_span(
            "dispatch offer",
            effect.delivery.trace_context,
            kind=SpanKind.PRODUCER,
            attributes={"lastmile.delivery_id": offer.delivery_id,
                        "lastmile.offer_id": offer.offer_id,
                        "lastmile.courier_id": offer.courier_id},
        ) as span:  # fmt: skip
            message = OfferToCourier(offer, effect.delivery, trace_context.current())
            sent = self._links.send(offer.fleet_replica_id, message)
            span.set_attribute("lastmile.offer_sent", sent)
        if not sent:
            self._carry_out(self.board.offer_undelivered(offer.offer_id, self._clock()))
        elif effect.first:
            waited = self._clock() - effect.delivery.created_at
            metrics.CREATE_TO_OFFER.observe(max(0.0, waited.total_seconds()))

    def _send(self, replica: str, message: FleetMessage) -> None:
        if not replica or not self._links.send(replica, message):
            # The replica resnapshots when its Link returns; a courier found then holding
            # an offer dispatch no longer knows is sent WITHDRAWN, and one still waiting
            # for an assignment gets it again.
            log.warning(
                "no open Link to reach a courier through",
                extra={"fleet_replica_id": replica, "message_type": type(message).__name__},
            )

    def _expire(self, offer_id: str) -> None:
        self._timers.pop(offer_id, None)
        if not self.active:
            return
        effects = self.board.offer_expired(offer_id, self._clock())
        if effects:
            log.info(
                "offer unanswered past its deadline; offering to the next courier",
                extra={"offer_id": offer_id},
            )
        self._carry_out(effects)

    async def _assign(self, offer: Offer) -> None:
        """AssignCourier is conditional and idempotent: asked again until orders
        decides, it assigns at most once."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(AssignmentNotSettled),
            wait=wait_exponential_jitter(multiplier=0.05, max=self._max_backoff),
            reraise=True,
        ):
            with attempt:
                verdict = await self._orders.assign_courier(
                    offer.delivery_id, offer.courier_id, offer.offer_id
                )
        if isinstance(verdict, NotAssigned):
            log.info(
                "assignment refused by orders",
                extra={"delivery_id": offer.delivery_id, "current_state": verdict.current_state},
            )
        if self.active:
            self._carry_out(self.board.assignment_settled(offer, verdict, self._clock()))

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._policy.sweep_seconds)
            self._carry_out(self.board.sweep(self._clock()))
            self.publish_gauges()

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_report_failure)

    def publish_gauges(self) -> None:
        board = self.board
        metrics.QUEUE_LENGTH.set(board.queue_length())
        oldest = board.oldest(1)
        age = (self._clock() - oldest[0].enqueued_at).total_seconds() if oldest else 0.0
        metrics.QUEUE_OLDEST_AGE.set(max(0.0, age))
        counts = board.courier_counts()
        for status in CourierStatus:
            metrics.COURIERS.labels(status.value).set(counts[status])


def _report_failure(task: asyncio.Task[None]) -> None:
    """An assignment that failed unexpectedly stays ASSIGNING in the queue, so the next
    leader re-runs it; say so loudly rather than leave the error unretrieved."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("dispatch task failed", extra={"task": task.get_name()}, exc_info=error)
