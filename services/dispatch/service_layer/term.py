"""One term of leadership: the queue taken over from the database, the index rebuilt
from the fleet's snapshots, and everything that matches one to the other."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime

from services.dispatch import metrics
from services.dispatch.domain.courier_index import CourierIndex
from services.dispatch.domain.couriers import CourierStatus
from services.dispatch.domain.deliveries import DeliveryTerms, PendingDelivery, QueueState
from services.dispatch.domain.fleet_reports import DeliveryAssignment, DeliveryCancellation
from services.dispatch.domain.offers import OfferTerms
from services.dispatch.domain.queue import DispatchQueue
from services.dispatch.domain.statistics import OfferStatistics
from services.dispatch.service_layer.assigner import Assigner
from services.dispatch.service_layer.assignments import AssignmentBook
from services.dispatch.service_layer.courier_routes import CourierRoutes
from services.dispatch.service_layer.fleet_sync import FleetSync
from services.dispatch.service_layer.journal import QueueJournal
from services.dispatch.service_layer.offer_answers import OfferAnswers
from services.dispatch.service_layer.offer_desk import OfferDesk
from services.dispatch.service_layer.orders_decisions import OrdersDecisions
from services.dispatch.service_layer.ports import (
    Clock,
    FleetRoutes,
    LeaderLease,
    Orders,
    StoredDelivery,
)
from services.dispatch.service_layer.queue_rows import pending_of


@dataclass(frozen=True)
class MatchingPolicy:
    """The settings matching runs with."""

    offer_terms: OfferTerms
    max_pickup_meters: float
    sweep_seconds: float


class Term:
    """The matcher's state while this replica leads; dropped whole when it stops leading."""

    def __init__(
        self,
        lease: LeaderLease,
        routes: FleetRoutes,
        orders: Orders,
        policy: MatchingPolicy,
        clock: Clock,
    ) -> None:
        self.policy, self.clock = policy, clock
        self.queue, self.index = DispatchQueue(), CourierIndex()
        self.stats = OfferStatistics(started_at=clock())
        self.assignments = AssignmentBook()
        self.journal = QueueJournal(self.queue, lease)
        self.couriers = CourierRoutes(self.index, routes)
        self.desk = OfferDesk(
            queue=self.queue, index=self.index, journal=self.journal, routes=routes,
            couriers=self.couriers, terms=policy.offer_terms, stats=self.stats, clock=clock,
            max_pickup_meters=policy.max_pickup_meters,
        )  # fmt: skip
        self.assigner = Assigner(
            queue=self.queue, desk=self.desk, journal=self.journal, couriers=self.couriers,
            orders=orders, assignments=self.assignments,
        )  # fmt: skip
        self.answers = OfferAnswers(self.queue, self.desk, self.assigner, self.couriers)
        self.decisions = OrdersDecisions(
            queue=self.queue, desk=self.desk, journal=self.journal, couriers=self.couriers,
            assigner=self.assigner, assignments=self.assignments,
        )  # fmt: skip
        self.fleet = FleetSync(
            index=self.index, queue=self.queue, desk=self.desk, couriers=self.couriers,
            assignments=self.assignments,
        )  # fmt: skip
        self._sweeper: asyncio.Task[None] | None = None
        self.active = False

    def take_over(self, stored: list[StoredDelivery]) -> None:
        """Load the persisted queue. Open offers keep their deadlines until a snapshot
        shows who still holds them; assignments in flight are asked again."""
        for entry in stored:
            delivery = pending_of(entry, self.policy.offer_terms)
            self.queue.add(delivery)
            offer = delivery.offer
            if offer is not None:
                self.desk.open_offers.track(offer, answerable=delivery.state is QueueState.OFFERED)
                if delivery.state is QueueState.ASSIGNING:
                    self.assigner.assign(offer)
        self.journal.start()
        self._sweeper = asyncio.create_task(self._sweep(), name="dispatch-sweep")
        self.active = True

    async def end(self) -> None:
        self.active = False
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        self.desk.open_offers.close()
        await self.assigner.stop()
        await self.journal.stop()

    def enqueue(self, terms: DeliveryTerms, enqueued_at: datetime) -> None:
        delivery = PendingDelivery(terms, enqueued_at)
        if self.active and self.queue.add(delivery):
            self.desk.try_offer(delivery)

    def cancel(self, cancellation: DeliveryCancellation) -> None:
        if self.active:
            self.decisions.cancelled(cancellation)

    def assigned(self, assignment: DeliveryAssignment) -> None:
        if self.active:
            self.decisions.assigned(assignment)

    async def _sweep(self) -> None:
        """Retry the waiting deliveries now and then: a courier may have come within reach
        by moving, which no status change announces."""
        while True:
            await asyncio.sleep(self.policy.sweep_seconds)
            self.desk.match_waiting()
            self.publish_gauges()

    def publish_gauges(self) -> None:
        metrics.QUEUE_LENGTH.set(len(self.queue))
        oldest = self.queue.oldest(1)
        age = (self.clock() - oldest[0].enqueued_at).total_seconds() if oldest else 0.0
        metrics.QUEUE_OLDEST_AGE.set(max(0.0, age))
        counts = self.index.counts_by_status()
        for status in CourierStatus:
            metrics.COURIERS.labels(status.value).set(counts[status])
