"""Messages for one courier, routed to whichever replica holds the courier now (they
may have moved since the offer was made)."""

from __future__ import annotations

import logging

from services.dispatch.domain.courier_index import CourierIndex
from services.dispatch.domain.fleet_messages import (
    CancellationReason,
    FleetMessage,
    OfferWithdrawal,
)
from services.dispatch.domain.offers import Offer
from services.dispatch.service_layer.ports import FleetRoutes

log = logging.getLogger("lastmile.dispatch.routes")


class CourierRoutes:
    """Sends offers' follow-ups: withdrawals and assignments."""

    def __init__(self, index: CourierIndex, routes: FleetRoutes) -> None:
        self._index = index
        self._routes = routes

    def send(self, courier_id: str, message: FleetMessage, *, fallback_replica: str) -> None:
        courier = self._index.get(courier_id)
        replica = courier.fleet_replica_id if courier is not None else fallback_replica
        if not replica or not self._routes.send(replica, message):
            # The replica resnapshots when its Link returns; a courier found then holding
            # an offer dispatch no longer knows is sent WITHDRAWN, and one still waiting
            # for an assignment gets it again.
            log.warning(
                "no open Link to reach a courier through",
                extra={"courier_id": courier_id, "message_type": type(message).__name__},
            )

    def withdraw(self, offer: Offer, reason: CancellationReason, detail: str = "") -> None:
        self.tell(
            offer.courier_id, offer.offer_id, offer.delivery_id, reason, detail,
            fallback_replica=offer.fleet_replica_id,
        )  # fmt: skip

    def tell(
        self,
        courier_id: str,
        offer_id: str,
        delivery_id: str,
        reason: CancellationReason,
        detail: str = "",
        *,
        fallback_replica: str = "",
    ) -> None:
        withdrawal = OfferWithdrawal(courier_id, offer_id, delivery_id, reason, detail)
        self.send(courier_id, withdrawal, fallback_replica=fallback_replica)
