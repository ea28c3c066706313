"""Accepted offers become assignments through orders.AssignCourier, which is
conditional and idempotent: retried until orders decides, it assigns at most once."""

from __future__ import annotations

import asyncio
import logging

from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from services.dispatch.domain.deliveries import PendingDelivery, QueueState
from services.dispatch.domain.fleet_messages import AssignmentToCourier, CancellationReason
from services.dispatch.domain.offers import Offer
from services.dispatch.domain.queue import DispatchQueue
from services.dispatch.domain.statistics import OfferOutcome
from services.dispatch.service_layer.assignments import AssignmentBook
from services.dispatch.service_layer.courier_routes import CourierRoutes
from services.dispatch.service_layer.journal import QueueJournal
from services.dispatch.service_layer.offer_desk import OfferDesk
from services.dispatch.service_layer.ports import (
    Assigned,
    AssignmentNotSettled,
    NotAssigned,
    Orders,
)

log = logging.getLogger("lastmile.dispatch.assignments")
CANCELLED = "DELIVERY_STATUS_CANCELLED"


class Assigner:
    """Runs one AssignCourier per accepted offer, and tells the courier the outcome."""

    def __init__(
        self,
        *,
        queue: DispatchQueue,
        desk: OfferDesk,
        journal: QueueJournal,
        couriers: CourierRoutes,
        orders: Orders,
        assignments: AssignmentBook,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        self._queue, self._desk, self._journal = queue, desk, journal
        self._couriers = couriers
        self._orders, self._assignments = orders, assignments
        self._max_backoff = max_backoff_seconds
        self._running: set[asyncio.Task[None]] = set()

    def accept(self, delivery: PendingDelivery) -> None:
        """OFFERED -> ASSIGNING; orders is called once that state is durable, so that a
        successor re-runs the call instead of offering the delivery again."""
        offer = delivery.offer
        if offer is None:
            return
        self._desk.open_offers.record(OfferOutcome.ACCEPTED)
        self._desk.open_offers.accepted(offer.offer_id)
        self._queue.assigning(delivery)
        self._journal.persist(delivery.delivery_id, then=lambda: self.assign(offer))

    def assign(self, offer: Offer) -> None:
        task = asyncio.create_task(self._assign(offer), name=f"assign-{offer.delivery_id}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        task.add_done_callback(_report_failure)

    async def stop(self) -> None:
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def _assign(self, offer: Offer) -> None:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(AssignmentNotSettled),
            wait=wait_exponential_jitter(multiplier=0.05, max=self._max_backoff),
            reraise=True,
        ):
            with attempt:
                verdict = await self._orders.assign_courier(
                    offer.delivery_id, offer.courier_id, offer.offer_id
                )
        self._settle(offer, verdict)

    def _settle(self, offer: Offer, verdict: Assigned | NotAssigned) -> None:
        delivery = self._queue.get(offer.delivery_id)
        if delivery is None or delivery.state is not QueueState.ASSIGNING:
            return
        if delivery.offer is None or delivery.offer.offer_id != offer.offer_id:
            return
        self._queue.remove(offer.delivery_id)
        if isinstance(verdict, Assigned):
            self._desk.end(offer.offer_id, OfferOutcome.ASSIGNED)
            if delivery.cancelled:
                self._couriers.withdraw(offer, CancellationReason.DELIVERY_CANCELLED)
            else:
                # Sent before the queue forgets the delivery: if this replica dies in
                # between, its successor re-runs the idempotent call and sends it again.
                assignment = AssignmentToCourier(offer, delivery.terms, verdict.assigned_at)
                self._couriers.send(
                    offer.courier_id, assignment, fallback_replica=offer.fleet_replica_id
                )
                self._assignments.remember(assignment)
        else:
            self._desk.end(offer.offer_id, OfferOutcome.ASSIGNMENT_FAILED)
            reason = CancellationReason.NOT_ASSIGNED
            if verdict.current_state == CANCELLED or delivery.cancelled:
                reason = CancellationReason.DELIVERY_CANCELLED
            log.info(
                "assignment refused by orders",
                extra={"delivery_id": offer.delivery_id, "current_state": verdict.current_state},
            )
            self._couriers.withdraw(offer, reason)
        self._journal.persist(offer.delivery_id)


def _report_failure(task: asyncio.Task[None]) -> None:
    """An assignment that failed unexpectedly stays ASSIGNING in the journal, so the next
    leader re-runs it; say so loudly rather than leave the error unretrieved."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("assignment failed", extra={"task": task.get_name()}, exc_info=error)
