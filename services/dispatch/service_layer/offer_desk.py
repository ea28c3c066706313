"""Offers: the nearest eligible courier gets one, each courier holds at most one, and
an offer that ends without an assignment puts its delivery back in line."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from opentelemetry.trace import SpanKind

from services.dispatch import metrics
from services.dispatch.domain.courier_index import CourierIndex
from services.dispatch.domain.deliveries import PendingDelivery, QueueState
from services.dispatch.domain.fleet_messages import CancellationReason, OfferToCourier
from services.dispatch.domain.offers import Offer, OfferTerms
from services.dispatch.domain.queue import DispatchQueue
from services.dispatch.domain.statistics import OfferOutcome, OfferStatistics
from services.dispatch.service_layer.courier_routes import CourierRoutes
from services.dispatch.service_layer.journal import QueueJournal
from services.dispatch.service_layer.open_offers import OpenOffers
from services.dispatch.service_layer.ports import Clock, FleetRoutes
from services.runtime import trace_context

log = logging.getLogger("lastmile.dispatch.offers")


class OfferDesk:
    """Makes offers, and ends them: a courier set free is matched again, a delivery whose
    offer ended without an assignment is offered again."""

    def __init__(
        self,
        *,
        queue: DispatchQueue,
        index: CourierIndex,
        journal: QueueJournal,
        routes: FleetRoutes,
        couriers: CourierRoutes,
        terms: OfferTerms,
        stats: OfferStatistics,
        clock: Clock,
        max_pickup_meters: float,
        new_offer_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._queue, self._index, self._journal = queue, index, journal
        self._routes, self._couriers = routes, couriers
        self._terms, self._clock = terms, clock
        self._max_pickup_meters = max_pickup_meters
        self._new_offer_id = new_offer_id
        self.open_offers = OpenOffers(
            index=index, terms=terms, stats=stats, clock=clock, unanswered=self._unanswered
        )

    def try_offer(self, delivery: PendingDelivery, *, skip: str = "") -> bool:
        """Offer a WAITING delivery to the nearest eligible free courier, if any."""
        if delivery.state is not QueueState.WAITING:
            return False
        terms, declined = delivery.terms, delivery.declined_by
        found = self._index.nearest_free(
            terms.pickup.point,
            terms.parcel.size,
            self._max_pickup_meters,
            lambda courier_id: courier_id != skip and courier_id not in declined,
        )
        if found is None:
            return False
        courier, distance = found
        offer = self._terms.make(
            terms,
            offer_id=self._new_offer_id(),
            courier_id=courier.courier_id,
            fleet_replica_id=courier.fleet_replica_id,
            pickup_distance_meters=distance,
            now=self._clock(),
        )
        self._queue.offer(delivery, offer)
        self.open_offers.track(offer)
        self.open_offers.record(OfferOutcome.OFFERED)
        first = delivery.offer_count == 1
        # Sent only once the offer is durable: a successor must know every offer made.
        self._journal.persist(delivery.delivery_id, then=lambda: self._send(offer, first=first))
        return True

    def end(self, offer_id: str, outcome: OfferOutcome) -> Offer | None:
        """Close an open offer and let its courier go: to their assignment, or back to
        the waiting deliveries. None if it was not open."""
        offer = self.open_offers.end(offer_id, outcome)
        if offer is not None and self._index.is_free(offer.courier_id):
            self.match_waiting(for_courier=offer.courier_id)
        return offer

    def requeue(
        self,
        delivery: PendingDelivery,
        outcome: OfferOutcome,
        *,
        withdraw: CancellationReason | None = None,
        declined: bool = False,
    ) -> None:
        """End the delivery's open offer without an assignment, and offer it again. The
        courier it was offered to is skipped for this immediate retry only, unless they
        declined, which rules them out for good."""
        offer = delivery.offer
        if offer is None or delivery.state is not QueueState.OFFERED:
            return
        self.end(offer.offer_id, outcome)
        if withdraw is not None:
            self._couriers.withdraw(offer, withdraw)
        if declined:
            delivery.declined_by.add(offer.courier_id)
        self._queue.back_to_waiting(delivery)
        if not self.try_offer(delivery, skip=offer.courier_id):
            self._journal.persist(delivery.delivery_id)

    def match_waiting(self, *, for_courier: str = "") -> None:
        """Offer waiting deliveries in matching order while free couriers remain (or,
        with `for_courier`, until that courier has an offer)."""
        for delivery in self._queue.waiting():
            if not self._index.has_free() or (for_courier and not self._index.is_free(for_courier)):
                return
            self.try_offer(delivery)

    def _send(self, offer: Offer, *, first: bool) -> None:
        delivery = self._queue.get(offer.delivery_id)
        if offer.offer_id not in self.open_offers or delivery is None:
            return  # ended (a cancel, a lost Link) before it became durable
        # In the delivery's trace, whatever runs this (an event, a courier's report, the
        # sweep); fleet continues it from the message.
        with trace_context.continued_span(
            "dispatch offer",
            delivery.terms.trace_context,
            kind=SpanKind.PRODUCER,
            attributes={"lastmile.delivery_id": offer.delivery_id,
                        "lastmile.offer_id": offer.offer_id,
                        "lastmile.courier_id": offer.courier_id},
        ) as span:  # fmt: skip
            message = OfferToCourier(offer, delivery.terms, trace_context.current())
            sent = self._routes.send(offer.fleet_replica_id, message)
            span.set_attribute("lastmile.offer_sent", sent)
        if not sent:
            self.requeue(delivery, OfferOutcome.UNDELIVERABLE)
            return
        if first:
            waited = self._clock() - delivery.terms.created_at
            metrics.CREATE_TO_OFFER.observe(max(0.0, waited.total_seconds()))

    def _unanswered(self, offer_id: str) -> None:
        offer = self.open_offers.get(offer_id)
        delivery = self._queue.get(offer.delivery_id) if offer else None
        if delivery is None or delivery.state is not QueueState.OFFERED:
            return
        log.info(
            "offer unanswered past its deadline; offering to the next courier",
            extra={"offer_id": offer_id, "delivery_id": delivery.delivery_id},
        )
        self.requeue(delivery, OfferOutcome.TIMED_OUT, withdraw=CancellationReason.EXPIRED)
