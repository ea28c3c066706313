"""What dispatch sends over the Link -> the offer desk: offers, assignments and
withdrawals, each for one courier. Malformed messages (without the ids that say whom
and what they are about) are logged and skipped."""

from __future__ import annotations

import logging

from lastmile.dispatch.v1 import dispatch_internal_pb2 as link_pb2
from services.fleet.adapters.fleet_messages import (
    WITHDRAWAL_REASONS_BY_VALUE,
    read_assignment,
    read_offer,
)
from services.fleet.domain.offers import Withdrawal, WithdrawalReason
from services.fleet.service_layer.dispatch_decisions import DispatchDecisions

log = logging.getLogger("lastmile.fleet.link")


class DispatchInbound:
    """Routes each LinkResponse to the offer desk; never waits."""

    def __init__(self, offers: DispatchDecisions) -> None:
        self._offers = offers

    def receive(self, response: link_pb2.LinkResponse) -> None:
        kind = response.WhichOneof("message")
        if kind == "offer":
            offer = response.offer
            if self._valid(kind, offer.courier_id, offer.offer.offer_id, offer.offer.delivery_id):
                self._offers.offer_arrived(
                    offer.courier_id, read_offer(offer.offer), dict(offer.trace_context)
                )
        elif kind == "assignment":
            assignment = response.assignment
            if self._valid(
                kind,
                assignment.courier_id,
                assignment.assignment.offer_id,
                assignment.assignment.delivery_id,
            ):
                self._offers.assignment_arrived(
                    assignment.courier_id, read_assignment(assignment.assignment)
                )
        elif kind == "offer_cancellation":
            cancelled = response.offer_cancellation
            details = cancelled.cancellation
            if self._valid(kind, cancelled.courier_id, details.offer_id, details.delivery_id):
                reason = WITHDRAWAL_REASONS_BY_VALUE.get(details.reason, WithdrawalReason.WITHDRAWN)
                self._offers.withdrawal_arrived(
                    cancelled.courier_id,
                    Withdrawal(details.offer_id, details.delivery_id, reason, details.detail),
                )
        else:
            log.warning("empty message from dispatch skipped")

    def _valid(self, kind: str, courier_id: str, offer_id: str, delivery_id: str) -> bool:
        if courier_id and offer_id and delivery_id:
            return True
        log.warning(
            "malformed %s from dispatch skipped",
            kind,
            extra={"courier_id": courier_id, "offer_id": offer_id},
        )
        return False
