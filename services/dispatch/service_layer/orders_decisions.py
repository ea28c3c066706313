"""orders' decisions on a delivery, applied to the matcher in memory once committed: a
cancel drops it or withdraws its offer, an assignment settles it or ends a rival offer."""

from __future__ import annotations

from services.dispatch.domain.deliveries import QueueState
from services.dispatch.domain.fleet_messages import CancellationReason
from services.dispatch.domain.fleet_reports import DeliveryAssignment, DeliveryCancellation
from services.dispatch.domain.queue import DispatchQueue
from services.dispatch.domain.statistics import OfferOutcome
from services.dispatch.service_layer.assigner import Assigner
from services.dispatch.service_layer.assignments import AssignmentBook
from services.dispatch.service_layer.courier_routes import CourierRoutes
from services.dispatch.service_layer.journal import QueueJournal
from services.dispatch.service_layer.offer_desk import OfferDesk


class OrdersDecisions:
    """Keeps the queue, the offers and the couriers in line with what orders decided."""

    def __init__(
        self,
        *,
        queue: DispatchQueue,
        desk: OfferDesk,
        journal: QueueJournal,
        couriers: CourierRoutes,
        assigner: Assigner,
        assignments: AssignmentBook,
    ) -> None:
        self._queue, self._desk, self._journal = queue, desk, journal
        self._couriers, self._assigner, self._assignments = couriers, assigner, assignments

    def cancelled(self, cancellation: DeliveryCancellation) -> None:
        reason, detail = CancellationReason.DELIVERY_CANCELLED, cancellation.reason
        delivery = self._queue.get(cancellation.delivery_id)
        if delivery is not None and delivery.state is QueueState.ASSIGNING:
            delivery.cancelled = True  # the assignment's outcome decides what to say
        elif delivery is not None:
            self._queue.remove(delivery.delivery_id)
            self._journal.persist(delivery.delivery_id)
            if delivery.offer is not None:
                self._desk.end(delivery.offer.offer_id, OfferOutcome.CANCELLED)
                self._couriers.withdraw(delivery.offer, reason, detail)
        else:
            self._cancel_assignment(cancellation)

    def assigned(self, assignment: DeliveryAssignment) -> None:
        """orders assigned the delivery, maybe through a predecessor's offer."""
        delivery = self._queue.get(assignment.delivery_id)
        if delivery is None:
            return
        offer = delivery.offer
        if offer is not None and offer.offer_id == assignment.offer_id:
            if delivery.state is QueueState.OFFERED:
                self._assigner.accept(delivery)  # idempotent: settles to Assigned
            return
        self._queue.remove(delivery.delivery_id)
        self._journal.persist(delivery.delivery_id)
        if offer is not None:
            self._desk.end(offer.offer_id, OfferOutcome.ASSIGNMENT_FAILED)
            self._couriers.withdraw(offer, CancellationReason.WITHDRAWN)

    def _cancel_assignment(self, cancellation: DeliveryCancellation) -> None:
        reason, detail = CancellationReason.DELIVERY_CANCELLED, cancellation.reason
        remembered = self._assignments.pop(cancellation.delivery_id)
        if remembered is not None:
            self._couriers.withdraw(remembered.offer, reason, detail)
        elif cancellation.courier_id:  # assigned by a predecessor
            self._couriers.tell(
                cancellation.courier_id, cancellation.offer_id, cancellation.delivery_id,
                reason, detail,
            )  # fmt: skip
