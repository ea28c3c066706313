"""The fleet replicas' reports applied to the index: snapshots, changes and positions."""

from __future__ import annotations

import time
from collections.abc import Iterable

from services.dispatch import metrics
from services.dispatch.domain.courier_index import CourierIndex
from services.dispatch.domain.couriers import Courier, CourierStatus
from services.dispatch.domain.deliveries import QueueState
from services.dispatch.domain.fleet_messages import CancellationReason
from services.dispatch.domain.fleet_reports import PositionFix
from services.dispatch.domain.queue import DispatchQueue
from services.dispatch.domain.statistics import OfferOutcome
from services.dispatch.service_layer.assignments import AssignmentBook
from services.dispatch.service_layer.courier_routes import CourierRoutes
from services.dispatch.service_layer.offer_desk import OfferDesk


class FleetSync:
    """Keeps the index equal to what the replicas hold, and offers and assignments
    consistent with what their couriers hold."""

    def __init__(
        self,
        *,
        index: CourierIndex,
        queue: DispatchQueue,
        desk: OfferDesk,
        couriers: CourierRoutes,
        assignments: AssignmentBook,
    ) -> None:
        self._index, self._queue, self._desk = index, queue, desk
        self._couriers, self._assignments = couriers, assignments

    def link_opened(self, fleet_replica_id: str) -> None:
        # Until its snapshot is applied, the replica's couriers get no offers.
        self._index.set_ready(fleet_replica_id, False)

    def link_closed(self, fleet_replica_id: str) -> None:
        self._index.set_ready(fleet_replica_id, False)
        self._index.drop_replica(fleet_replica_id)

    def snapshot(self, fleet_replica_id: str, couriers: list[Courier]) -> None:
        self._index.replace_replica(fleet_replica_id, couriers)
        self._index.set_ready(fleet_replica_id, True)
        shown = {courier.courier_id: courier for courier in couriers}
        for offer in self._desk.open_offers:
            courier = shown.get(offer.courier_id)
            if offer.fleet_replica_id != fleet_replica_id and courier is None:
                continue
            if courier is not None and courier.holds_offer(offer.offer_id):
                continue  # still held: it keeps its deadline
            delivery = self._queue.get(offer.delivery_id)
            if delivery is not None and delivery.state is QueueState.OFFERED:
                # The answer (if any) was lost with the old Link: as good as expired.
                self._desk.requeue(
                    delivery, OfferOutcome.TIMED_OUT, withdraw=CancellationReason.EXPIRED
                )
        for courier in couriers:
            self._reconcile(courier)
        self._desk.match_waiting()

    def changed(self, courier: Courier) -> None:
        if not self._index.apply(courier):
            return
        self._assignments.reconcile(courier)
        if self._index.is_free(courier.courier_id):
            self._desk.match_waiting(for_courier=courier.courier_id)

    def positions(self, fleet_replica_id: str, fixes: Iterable[PositionFix]) -> None:
        """The hot path: no allocation beyond the fix itself, no I/O, no logging."""
        move = self._index.move
        observe = metrics.POSITION_INDEX_LATENCY.observe
        now = time.time()
        applied = 0
        for courier_id, latitude, longitude, recorded_at in fixes:
            if move(courier_id, fleet_replica_id, latitude, longitude, recorded_at):
                applied += 1
                observe(now - recorded_at)
        metrics.POSITION_UPDATES.inc(applied)

    def _reconcile(self, courier: Courier) -> None:
        awaited = self._assignments.reconcile(courier)
        if awaited is not None:
            self._couriers.send(courier.courier_id, awaited, fallback_replica="")
        elif (
            courier.status is CourierStatus.OFFERED
            and courier.offer_id
            and courier.offer_id not in self._desk.open_offers
        ):
            self._couriers.tell(
                courier.courier_id,
                courier.offer_id,
                "",
                CancellationReason.WITHDRAWN,
                "dispatch no longer holds this offer",
            )
