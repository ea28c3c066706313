"""The board's effects in words, one line each, so that its tests read as tables:
the input on the left, what the board asks for on the right."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

from services.dispatch.domain.board import Board
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
from services.dispatch.domain.fleet_messages import AssignmentToCourier, OfferWithdrawal
from services.dispatch.domain.offers import OfferTerms
from tests.unit.dispatch.fakes import T0

TERMS = OfferTerms(ttl=timedelta(seconds=20), grace=timedelta(seconds=2))
# The board's clock: every input happens at NOW unless a test says otherwise.
NOW = T0 + timedelta(minutes=1)


def new_board(max_pickup_meters: float = 5000) -> Board:
    """A board whose offers are numbered o1, o2, ... in the order they are made."""
    numbers = count(1)
    return Board(
        offer_terms=TERMS,
        max_pickup_meters=max_pickup_meters,
        started_at=T0,
        new_offer_id=lambda: f"o{next(numbers)}",
    )


def said(effects: list[Effect]) -> list[str]:
    return [say(effect) for effect in effects]


def say(effect: Effect) -> str:
    match effect:
        case ArmTimer(offer_id=offer_id):
            return f"arm {offer_id}"
        case CancelTimer(offer_id=offer_id):
            return f"disarm {offer_id}"
        case CountOffer(outcome=outcome):
            return f"count {outcome.value}"
        case Persist(delivery_id=delivery_id, row=None):
            return f"forget {delivery_id}"
        case Persist(delivery_id=delivery_id, row=row) if row is not None:
            held = f" {row.offer_id} to {row.courier_id}" if row.offer_id else ""
            declined = (
                f" declined by {','.join(sorted(row.declined_by))}" if row.declined_by else ""
            )
            return f"persist {delivery_id} {row.state.value}{held}{declined}"
        case SendOffer(offer=offer):
            return f"offer {offer.offer_id} of {offer.delivery_id} to {offer.courier_id}"
        case Send(fleet_replica_id=replica, message=OfferWithdrawal() as withdrawal):
            return (
                f"withdraw {withdrawal.offer_id} from {withdrawal.courier_id} "
                f"via {replica or '?'}: {withdrawal.reason.value}"
            )
        case Send(fleet_replica_id=replica, message=AssignmentToCourier(offer=offer)):
            return f"assign {offer.delivery_id} to {offer.courier_id} via {replica}"
        case CallAssignCourier(offer=offer):
            return f"AssignCourier {offer.offer_id}"
        case RecordPositions(lags_seconds=lags):
            return f"indexed {len(lags)} positions"
    raise AssertionError(f"no words for {effect!r}")
