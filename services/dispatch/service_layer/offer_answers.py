"""Couriers' answers to offers, as fleet relays them over the Link."""

from __future__ import annotations

from services.dispatch.domain.deliveries import QueueState
from services.dispatch.domain.fleet_messages import CancellationReason
from services.dispatch.domain.fleet_reports import AnswerOutcome, OfferAnswer
from services.dispatch.domain.queue import DispatchQueue
from services.dispatch.domain.statistics import OfferOutcome
from services.dispatch.service_layer.assigner import Assigner
from services.dispatch.service_layer.courier_routes import CourierRoutes
from services.dispatch.service_layer.offer_desk import OfferDesk

_ENDED = {
    AnswerOutcome.EXPIRED: OfferOutcome.TIMED_OUT,
    AnswerOutcome.UNDELIVERABLE: OfferOutcome.UNDELIVERABLE,
}


class OfferAnswers:
    """ACCEPTED assigns; DECLINED rules the courier out and re-matches; EXPIRED and
    UNDELIVERABLE re-match (the courier may get the delivery again later)."""

    def __init__(
        self, queue: DispatchQueue, desk: OfferDesk, assigner: Assigner, couriers: CourierRoutes
    ) -> None:
        self._queue, self._desk, self._assigner = queue, desk, assigner
        self._couriers = couriers

    def handle(self, fleet_replica_id: str, answer: OfferAnswer) -> None:
        delivery = self._queue.get(answer.delivery_id)
        offer = delivery.offer if delivery is not None else None
        if delivery is None or offer is None or offer.offer_id != answer.offer_id:
            self._stale(fleet_replica_id, answer)
            return
        if delivery.state is not QueueState.OFFERED:
            return  # a repeat of the answer that made it ASSIGNING
        if answer.outcome is AnswerOutcome.ACCEPTED:
            self._assigner.accept(delivery)
        elif answer.outcome is AnswerOutcome.DECLINED:
            self._desk.requeue(delivery, OfferOutcome.DECLINED, declined=True)
        else:
            self._desk.requeue(delivery, _ENDED[answer.outcome])

    def _stale(self, fleet_replica_id: str, answer: OfferAnswer) -> None:
        """An answer to an offer that is no longer open (it expired, the delivery was
        cancelled, or a predecessor made it). A courier who accepted such an offer must
        not wait for an assignment that will never come."""
        if answer.outcome is AnswerOutcome.ACCEPTED:
            self._couriers.tell(
                answer.courier_id,
                answer.offer_id,
                answer.delivery_id,
                CancellationReason.EXPIRED,
                "the offer is no longer open",
                fallback_replica=fleet_replica_id,
            )
