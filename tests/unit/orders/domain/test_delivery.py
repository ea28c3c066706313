"""The delivery state machine: every command in every status, by the assigned courier
and by another one; moves emit their event, repeats change nothing, the rest is refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from services.orders.domain.delivery import (
    Assignment,
    Delivery,
    DeliveryStatus,
    InvalidState,
    Transition,
)
from services.orders.domain.events import (
    DeliveryAssigned,
    DeliveryCancelled,
    DeliveryCreated,
    DeliveryDelivered,
    DeliveryPickedUp,
)
from tests.unit.orders.examples import COURIER, OTHER_COURIER, QUOTE, REQUEST, pending
from tests.unit.orders.fakes import NOW

LATER = NOW + timedelta(minutes=5)
P, A, U, D, C = (
    DeliveryStatus.PENDING,
    DeliveryStatus.ASSIGNED,
    DeliveryStatus.PICKED_UP,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.CANCELLED,
)


def in_state(name: str) -> Delivery:
    delivery = pending()
    path: dict[str, list[Callable[[Delivery], Transition]]] = {
        "pending": [],
        "assigned": [lambda d: d.assign(COURIER, NOW)],
        "picked_up": [lambda d: d.assign(COURIER, NOW), lambda d: d.mark_picked_up(COURIER, NOW)],
        "delivered": [
            lambda d: d.assign(COURIER, NOW),
            lambda d: d.mark_picked_up(COURIER, NOW),
            lambda d: d.mark_delivered(COURIER, NOW),
        ],
        "cancelled_pending": [lambda d: d.cancel("", NOW)],
        "cancelled_assigned": [lambda d: d.assign(COURIER, NOW), lambda d: d.cancel("", NOW)],
    }
    for step in path[name]:
        delivery = step(delivery).delivery
    return delivery


COMMANDS: dict[str, Callable[[Delivery], Transition]] = {
    "assign": lambda d: d.assign(COURIER, LATER),
    "assign other": lambda d: d.assign(OTHER_COURIER, LATER),
    "pick up": lambda d: d.mark_picked_up(COURIER, LATER),
    "pick up other": lambda d: d.mark_picked_up(OTHER_COURIER, LATER),
    "deliver": lambda d: d.mark_delivered(COURIER, LATER),
    "deliver other": lambda d: d.mark_delivered(OTHER_COURIER, LATER),
    "cancel": lambda d: d.cancel("no longer needed", LATER),
}
MOVE, SAME, REFUSE = "move", "unchanged", "refused"
# state -> command -> outcome (for MOVE, the status it moves to)
TABLE: dict[str, dict[str, object]] = {
    "pending": {"assign": A, "assign other": A, "pick up": REFUSE, "pick up other": REFUSE,
                "deliver": REFUSE, "deliver other": REFUSE, "cancel": C},
    "assigned": {"assign": SAME, "assign other": REFUSE, "pick up": U, "pick up other": REFUSE,
                 "deliver": REFUSE, "deliver other": REFUSE, "cancel": C},
    "picked_up": {"assign": SAME, "assign other": REFUSE, "pick up": SAME,
                  "pick up other": REFUSE, "deliver": D, "deliver other": REFUSE,
                  "cancel": REFUSE},
    "delivered": {"assign": SAME, "assign other": REFUSE, "pick up": SAME,
                  "pick up other": REFUSE, "deliver": SAME, "deliver other": REFUSE,
                  "cancel": REFUSE},
    "cancelled_pending": {"assign": REFUSE, "assign other": REFUSE, "pick up": REFUSE,
                          "pick up other": REFUSE, "deliver": REFUSE, "deliver other": REFUSE,
                          "cancel": SAME},
    "cancelled_assigned": {"assign": REFUSE, "assign other": REFUSE, "pick up": REFUSE,
                           "pick up other": REFUSE, "deliver": REFUSE, "deliver other": REFUSE,
                           "cancel": SAME},
}  # fmt: skip
CASES = [
    (state, command, outcome) for state, row in TABLE.items() for command, outcome in row.items()
]


@pytest.mark.parametrize(
    ("state", "command", "outcome"), CASES, ids=[f"{s}-{c}" for s, c, _ in CASES]
)
def test_every_command_in_every_status_moves_repeats_or_is_refused(
    state: str, command: str, outcome: object
) -> None:
    before = in_state(state)
    if outcome == REFUSE:
        with pytest.raises(InvalidState) as refused:
            COMMANDS[command](before)
        assert refused.value.metadata["current_state"] == before.status.contract_name
        return
    transition = COMMANDS[command](before)
    if outcome == SAME:
        assert transition == Transition(before, None)
        return
    after, event = transition.delivery, transition.event
    assert after.status is outcome
    assert (after.version, after.updated_at) == (before.version + 1, LATER)
    assert event is not None
    assert (event.delivery_id, event.version, event.occurred_at) == (
        before.id,
        after.version,
        LATER,
    )


def test_creation_makes_a_pending_delivery_at_version_1_and_says_so() -> None:
    delivery, created = Delivery.create(
        "d-9", REQUEST, QUOTE, region="berlin", customer_id=None, merchant_id="merchant-1", now=NOW
    )
    assert (delivery.status, delivery.version, delivery.price) == (P, 1, QUOTE.price)
    assert (delivery.quote_id, delivery.merchant_id, delivery.customer_id) == (
        "quote-0",
        "merchant-1",
        None,
    )
    assert created == DeliveryCreated("d-9", 1, NOW, "berlin", delivery)


def test_each_move_records_its_time_and_the_courier() -> None:
    assigned = pending().assign(COURIER, NOW)
    assert isinstance(assigned.event, DeliveryAssigned)
    assert (assigned.delivery.assignment, assigned.delivery.assigned_at) == (COURIER, NOW)
    picked_up = assigned.delivery.mark_picked_up(COURIER, LATER)
    assert isinstance(picked_up.event, DeliveryPickedUp)
    assert picked_up.delivery.picked_up_at == LATER
    delivered = picked_up.delivery.mark_delivered(COURIER, LATER)
    assert isinstance(delivered.event, DeliveryDelivered)
    assert delivered.delivery.delivered_at == LATER


def test_cancelling_an_assigned_delivery_keeps_and_reports_its_courier() -> None:
    cancelled = in_state("assigned").cancel("wrong address", LATER)
    assert cancelled.event == DeliveryCancelled(
        "d-1", 3, LATER, "berlin", A, COURIER, "wrong address"
    )
    assert cancelled.delivery.assignment == COURIER
    assert (cancelled.delivery.cancelled_at, cancelled.delivery.cancel_reason) == (
        LATER,
        "wrong address",
    )


def test_a_refusal_names_the_courier_and_offer_that_hold_the_delivery() -> None:
    with pytest.raises(InvalidState) as refused:
        in_state("assigned").assign(Assignment("courier-2", "offer-2"), LATER)
    assert refused.value.reason == "INVALID_STATE"
    assert refused.value.metadata == {
        "current_state": "DELIVERY_STATUS_ASSIGNED",
        "courier_id": "courier-1",
        "offer_id": "offer-1",
    }
