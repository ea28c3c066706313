"""The matching core of one region: the queue, the courier index, the open offers and
the assignments made, changed only by the inputs below, each returning the effects for
the shell to carry out. No I/O, no tasks, no clock but the `now` it is given.

The rules it keeps: the nearest eligible free courier gets a waiting delivery (express
first, then the longest waiting); a courier holds at most one offer; a courier who
declined a delivery is never offered it again; an offer unanswered past its backstop is
offered to the next courier; an accepted offer becomes an assignment only through
orders.AssignCourier, whose verdict (not a cancel racing it) decides what the courier
is told; deliveries with no free courier wait until one is.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime

from services.dispatch.domain.assignments import AssignmentBook
from services.dispatch.domain.courier_index import CourierIndex
from services.dispatch.domain.couriers import Courier, CourierStatus
from services.dispatch.domain.deliveries import DeliveryTerms, PendingDelivery, QueueState
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
from services.dispatch.domain.fleet_messages import (
    AssignmentToCourier,
    CancellationReason,
    OfferWithdrawal,
)
from services.dispatch.domain.fleet_reports import (
    AnswerOutcome,
    DeliveryAssignment,
    DeliveryCancellation,
    OfferAnswer,
    PositionFix,
)
from services.dispatch.domain.offers import Offer, OfferTerms
from services.dispatch.domain.queue import DispatchQueue
from services.dispatch.domain.queue_rows import StoredDelivery, pending_of, row_of
from services.dispatch.domain.statistics import OfferOutcome, OfferStatistics
from services.dispatch.domain.verdicts import Assigned, Verdict

CANCELLED = "DELIVERY_STATUS_CANCELLED"
_ENDED = {
    AnswerOutcome.EXPIRED: OfferOutcome.TIMED_OUT,
    AnswerOutcome.UNDELIVERABLE: OfferOutcome.UNDELIVERABLE,
}
Effects = list[Effect]


class Board:
    """One region's matching state; every public method but the views is an input."""

    def __init__(
        self,
        *,
        offer_terms: OfferTerms,
        max_pickup_meters: float,
        started_at: datetime,
        new_offer_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._terms, self._max_pickup_meters = offer_terms, max_pickup_meters
        self._new_offer_id = new_offer_id
        self._queue, self._index = DispatchQueue(), CourierIndex()
        self._open: dict[str, Offer] = {}  # offers not yet ended, by offer id
        self._unanswered: set[str] = set()  # of those, the ones with a backstop armed
        self._assignments = AssignmentBook()
        self.statistics = OfferStatistics(started_at=started_at)

    # -- the persisted queue ------------------------------------------------------------

    def take_over(self, stored: Iterable[StoredDelivery]) -> Effects:
        """A new leader's queue. Open offers keep their deadlines until a snapshot shows
        who still holds them; assignments in flight are asked again."""
        fx: Effects = []
        for entry in stored:
            delivery = pending_of(entry, self._terms)
            self._queue.add(delivery)
            offer = delivery.offer
            if offer is not None:
                self._track(offer, fx, answerable=delivery.state is QueueState.OFFERED)
                if delivery.state is QueueState.ASSIGNING:
                    fx.append(CallAssignCourier(offer))
        return fx

    # -- orders' delivery events (once committed) ---------------------------------------

    def delivery_created(
        self, terms: DeliveryTerms, enqueued_at: datetime, now: datetime
    ) -> Effects:
        fx: Effects = []
        delivery = PendingDelivery(terms, enqueued_at)
        if self._queue.add(delivery):
            self._try_offer(delivery, now, fx)
        return fx

    def delivery_cancelled(self, cancellation: DeliveryCancellation, now: datetime) -> Effects:
        """Drop the delivery and withdraw its offer; while its assignment runs, the
        assignment's verdict decides what the courier is told."""
        fx: Effects = []
        reason, detail = CancellationReason.DELIVERY_CANCELLED, cancellation.reason
        delivery = self._queue.get(cancellation.delivery_id)
        if delivery is not None and delivery.state is QueueState.ASSIGNING:
            delivery.cancelled = True
        elif delivery is not None:
            self._queue.remove(delivery.delivery_id)
            if delivery.offer is not None:
                self._withdraw(delivery.offer, reason, fx, detail)
                self._end(delivery.offer.offer_id, OfferOutcome.CANCELLED, now, fx)
            fx.append(Persist(delivery.delivery_id, None))
        elif (remembered := self._assignments.pop(cancellation.delivery_id)) is not None:
            self._withdraw(remembered.offer, reason, fx, detail)
        elif cancellation.courier_id:  # assigned by a predecessor
            self._tell(
                cancellation.courier_id, cancellation.offer_id, cancellation.delivery_id,
                reason, detail, "", fx,
            )  # fmt: skip
        return fx

    def delivery_assigned(self, assignment: DeliveryAssignment, now: datetime) -> Effects:
        """orders assigned the delivery, maybe through a predecessor's offer."""
        fx: Effects = []
        delivery = self._queue.get(assignment.delivery_id)
        if delivery is None:
            return fx
        offer = delivery.offer
        if offer is not None and offer.offer_id == assignment.offer_id:
            if delivery.state is QueueState.OFFERED:
                self._accept(delivery, fx)  # AssignCourier is idempotent: it settles
            return fx
        self._queue.remove(delivery.delivery_id)
        if offer is not None:
            self._withdraw(offer, CancellationReason.WITHDRAWN, fx)
            self._end(offer.offer_id, OfferOutcome.ASSIGNMENT_FAILED, now, fx)
        fx.append(Persist(delivery.delivery_id, None))
        return fx

    # -- the fleet replicas' reports ----------------------------------------------------

    def link_opened(self, fleet_replica_id: str) -> Effects:
        # Until its snapshot is applied, the replica's couriers get no offers.
        self._index.set_ready(fleet_replica_id, False)
        return []

    def link_closed(self, fleet_replica_id: str) -> Effects:
        self._index.set_ready(fleet_replica_id, False)
        self._index.drop_replica(fleet_replica_id)
        return []

    def snapshot(self, fleet_replica_id: str, couriers: list[Courier], now: datetime) -> Effects:
        """The replica holds exactly `couriers`: an offer none of them holds any more
        lost its answer with the old Link and is as good as expired; a courier holding
        an offer unknown here is told it is withdrawn; one still waiting for an
        assignment gets it again."""
        fx: Effects = []
        self._index.replace_replica(fleet_replica_id, couriers)
        self._index.set_ready(fleet_replica_id, True)
        shown = {courier.courier_id: courier for courier in couriers}
        for offer in list(self._open.values()):
            courier = shown.get(offer.courier_id)
            if offer.fleet_replica_id != fleet_replica_id and courier is None:
                continue
            if courier is not None and courier.holds_offer(offer.offer_id):
                continue  # still held: it keeps its deadline
            delivery = self._queue.get(offer.delivery_id)
            if delivery is not None and delivery.state is QueueState.OFFERED:
                self._requeue(
                    delivery, OfferOutcome.TIMED_OUT, now, fx, withdraw=CancellationReason.EXPIRED
                )
        for courier in couriers:
            awaited = self._assignments.reconcile(courier)
            if awaited is not None:
                fx.append(Send(courier.fleet_replica_id, awaited))
            elif (
                courier.status is CourierStatus.OFFERED
                and courier.offer_id
                and courier.offer_id not in self._open
            ):
                self._tell(
                    courier.courier_id, courier.offer_id, "", CancellationReason.WITHDRAWN,
                    "dispatch no longer holds this offer", "", fx,
                )  # fmt: skip
        self._match_waiting(now, fx)
        return fx

    def courier_changed(self, courier: Courier, now: datetime) -> Effects:
        fx: Effects = []
        if not self._index.apply(courier):
            return fx
        self._assignments.reconcile(courier)
        if self._index.is_free(courier.courier_id):
            self._match_waiting(now, fx, for_courier=courier.courier_id)
        return fx

    def positions(
        self, fleet_replica_id: str, fixes: Iterable[PositionFix], now_epoch: float
    ) -> Effects:
        """The hot path: thousands of fixes a second, so nothing but the moves. A
        courier moved within reach is found by the next `sweep`."""
        move = self._index.move
        lags = [
            now_epoch - recorded_at
            for courier_id, latitude, longitude, recorded_at in fixes
            if move(courier_id, fleet_replica_id, latitude, longitude, recorded_at)
        ]
        return [RecordPositions(lags)]

    def offer_answered(self, fleet_replica_id: str, answer: OfferAnswer, now: datetime) -> Effects:
        """ACCEPTED assigns; DECLINED rules the courier out and re-matches; EXPIRED and
        UNDELIVERABLE re-match (the courier may get the delivery again later)."""
        fx: Effects = []
        delivery = self._queue.get(answer.delivery_id)
        offer = delivery.offer if delivery is not None else None
        if delivery is None or offer is None or offer.offer_id != answer.offer_id:
            # No longer open (it expired, the delivery was cancelled, a predecessor made
            # it): a courier who accepted must not wait for an assignment that never comes.
            if answer.outcome is AnswerOutcome.ACCEPTED:
                self._tell(
                    answer.courier_id, answer.offer_id, answer.delivery_id,
                    CancellationReason.EXPIRED, "the offer is no longer open",
                    fleet_replica_id, fx,
                )  # fmt: skip
            return fx
        if delivery.state is not QueueState.OFFERED:
            return fx  # a repeat of the answer that made it ASSIGNING
        if answer.outcome is AnswerOutcome.ACCEPTED:
            self._accept(delivery, fx)
        elif answer.outcome is AnswerOutcome.DECLINED:
            self._requeue(delivery, OfferOutcome.DECLINED, now, fx, declined=True)
        else:
            self._requeue(delivery, _ENDED[answer.outcome], now, fx)
        return fx

    # -- the shell's own reports --------------------------------------------------------

    def offer_expired(self, offer_id: str, now: datetime) -> Effects:
        """The backstop fired: the answer never came, so the next courier gets it."""
        fx: Effects = []
        self._unanswered.discard(offer_id)
        delivery = self._offered_delivery(offer_id)
        if delivery is not None:
            self._requeue(
                delivery, OfferOutcome.TIMED_OUT, now, fx, withdraw=CancellationReason.EXPIRED
            )
        return fx

    def offer_undelivered(self, offer_id: str, now: datetime) -> Effects:
        """The offer's replica had no open Link: offer the delivery to someone else."""
        fx: Effects = []
        delivery = self._offered_delivery(offer_id)
        if delivery is not None:
            self._requeue(delivery, OfferOutcome.UNDELIVERABLE, now, fx)
        return fx

    def assignment_settled(self, offer: Offer, verdict: Verdict, now: datetime) -> Effects:
        """orders decided on the accepted `offer`: the courier gets the assignment, or
        the offer is withdrawn; either way the delivery leaves the queue."""
        fx: Effects = []
        delivery = self._queue.get(offer.delivery_id)
        if delivery is None or delivery.state is not QueueState.ASSIGNING:
            return fx
        if delivery.offer is None or delivery.offer.offer_id != offer.offer_id:
            return fx
        self._queue.remove(offer.delivery_id)
        if isinstance(verdict, Assigned):
            self._end(offer.offer_id, OfferOutcome.ASSIGNED, now, fx)
            if delivery.cancelled:
                self._withdraw(offer, CancellationReason.DELIVERY_CANCELLED, fx)
            else:
                # Sent before the queue forgets the delivery: if this replica dies in
                # between, its successor re-runs the idempotent call and sends it again.
                assignment = AssignmentToCourier(offer, delivery.terms, verdict.assigned_at)
                self._send_to_courier(offer.courier_id, assignment, offer.fleet_replica_id, fx)
                self._assignments.remember(assignment)
        else:
            reason = CancellationReason.NOT_ASSIGNED
            if verdict.current_state == CANCELLED or delivery.cancelled:
                reason = CancellationReason.DELIVERY_CANCELLED
            self._withdraw(offer, reason, fx)
            self._end(offer.offer_id, OfferOutcome.ASSIGNMENT_FAILED, now, fx)
        fx.append(Persist(offer.delivery_id, None))
        return fx

    def sweep(self, now: datetime) -> Effects:
        """Retry the waiting deliveries: a courier may have come within reach by moving,
        which no status change announces."""
        fx: Effects = []
        self._match_waiting(now, fx)
        return fx

    # -- views --------------------------------------------------------------------------

    def is_open(self, offer_id: str) -> bool:
        return offer_id in self._open

    def queue_length(self) -> int:
        return len(self._queue)

    def oldest(
        self, count: int, after: tuple[datetime, str] | None = None
    ) -> list[PendingDelivery]:
        """Up to `count` queued deliveries, oldest first, strictly after the keyset."""
        return self._queue.oldest(count, after=after)

    def delivery(self, delivery_id: str) -> PendingDelivery | None:
        return self._queue.get(delivery_id)

    def courier_counts(self) -> Counter[CourierStatus]:
        return self._index.counts_by_status()

    def courier_count_of(self, fleet_replica_id: str) -> int:
        return self._index.count_of(fleet_replica_id)

    # -- offers -------------------------------------------------------------------------

    def _try_offer(
        self, delivery: PendingDelivery, now: datetime, fx: Effects, *, skip: str = ""
    ) -> bool:
        """Offer a WAITING delivery to the nearest eligible free courier, if any; the
        offer is sent only once durable, since a successor must know every offer made."""
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
            terms, offer_id=self._new_offer_id(), courier_id=courier.courier_id,
            fleet_replica_id=courier.fleet_replica_id, pickup_distance_meters=distance, now=now,
        )  # fmt: skip
        self._queue.offer(delivery, offer)
        self._track(offer, fx)
        self._count(OfferOutcome.OFFERED, fx)
        fx.append(Persist(delivery.delivery_id, row_of(delivery)))
        fx.append(SendOffer(offer, terms, first=delivery.offer_count == 1))
        return True

    def _match_waiting(self, now: datetime, fx: Effects, *, for_courier: str = "") -> None:
        """Offer waiting deliveries in matching order while free couriers remain (or,
        with `for_courier`, until that courier has an offer)."""
        for delivery in self._queue.waiting():
            if not self._index.has_free() or (for_courier and not self._index.is_free(for_courier)):
                return
            self._try_offer(delivery, now, fx)

    def _track(self, offer: Offer, fx: Effects, *, answerable: bool = True) -> None:
        """Hold the courier for `offer`; one awaiting an answer gets its backstop."""
        self._index.hold(offer.courier_id, offer.offer_id)
        self._open[offer.offer_id] = offer
        if answerable:
            self._unanswered.add(offer.offer_id)
            fx.append(ArmTimer(offer.offer_id, self._terms.backstop(offer)))

    def _accept(self, delivery: PendingDelivery, fx: Effects) -> None:
        """OFFERED -> ASSIGNING; orders is called once that state is durable, so that a
        successor re-runs the call instead of offering the delivery again."""
        offer = delivery.offer
        if offer is None:
            return
        self._count(OfferOutcome.ACCEPTED, fx)
        self._disarm(offer.offer_id, fx)
        self._queue.assigning(delivery)
        fx.append(Persist(delivery.delivery_id, row_of(delivery)))
        fx.append(CallAssignCourier(offer))

    def _end(self, offer_id: str, outcome: OfferOutcome, now: datetime, fx: Effects) -> None:
        """Close an open offer and let its courier go: to their assignment, or back to
        the waiting deliveries."""
        offer = self._open.pop(offer_id, None)
        if offer is None:
            return
        self._disarm(offer_id, fx)
        if outcome is OfferOutcome.ASSIGNED:
            # Busy until fleet reports otherwise, so no offer races the assignment.
            self._index.assume_assigned(offer.courier_id, offer.delivery_id)
        self._index.release(offer.courier_id, offer_id)
        self._count(outcome, fx)
        if self._index.is_free(offer.courier_id):
            self._match_waiting(now, fx, for_courier=offer.courier_id)

    def _requeue(
        self,
        delivery: PendingDelivery,
        outcome: OfferOutcome,
        now: datetime,
        fx: Effects,
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
        if withdraw is not None:
            self._withdraw(offer, withdraw, fx)
        self._end(offer.offer_id, outcome, now, fx)
        if declined:
            delivery.declined_by.add(offer.courier_id)
        self._queue.back_to_waiting(delivery)
        if not self._try_offer(delivery, now, fx, skip=offer.courier_id):
            fx.append(Persist(delivery.delivery_id, row_of(delivery)))

    def _offered_delivery(self, offer_id: str) -> PendingDelivery | None:
        """The delivery `offer_id` is open for, if it still awaits the answer."""
        offer = self._open.get(offer_id)
        delivery = self._queue.get(offer.delivery_id) if offer is not None else None
        if delivery is None or delivery.state is not QueueState.OFFERED:
            return None
        return delivery

    def _disarm(self, offer_id: str, fx: Effects) -> None:
        if offer_id in self._unanswered:
            self._unanswered.discard(offer_id)
            fx.append(CancelTimer(offer_id))

    def _count(self, outcome: OfferOutcome, fx: Effects) -> None:
        self.statistics.record(outcome)
        fx.append(CountOffer(outcome))

    # -- messages to couriers -----------------------------------------------------------

    def _send_to_courier(
        self, courier_id: str, message: OfferWithdrawal | AssignmentToCourier,
        fallback_replica: str, fx: Effects,
    ) -> None:  # fmt: skip
        """Through whichever replica holds the courier now (they may have moved since
        the offer was made)."""
        courier = self._index.get(courier_id)
        replica = courier.fleet_replica_id if courier is not None else fallback_replica
        fx.append(Send(replica, message))

    def _withdraw(
        self, offer: Offer, reason: CancellationReason, fx: Effects, detail: str = ""
    ) -> None:
        self._tell(
            offer.courier_id, offer.offer_id, offer.delivery_id, reason, detail,
            offer.fleet_replica_id, fx,
        )  # fmt: skip

    def _tell(
        self, courier_id: str, offer_id: str, delivery_id: str, reason: CancellationReason,
        detail: str, fallback_replica: str, fx: Effects,
    ) -> None:  # fmt: skip
        withdrawal = OfferWithdrawal(courier_id, offer_id, delivery_id, reason, detail)
        self._send_to_courier(courier_id, withdrawal, fallback_replica, fx)
