"""Couriers for the fault tests: scripted apps (tests/e2e/courier.py) that, like the real
app, open a new session when theirs breaks, until fleet answers again."""

from __future__ import annotations

import time

from lastmile.fleet.v1 import courier_session_pb2
from tests.e2e.courier import ScriptedCourier

RECONNECT_LIMIT_SECONDS = 90.0


def reconnected(target: str, token: str, name: str) -> tuple[ScriptedCourier, int]:
    """A new session for the courier, and how many attempts it took; an attempt fails when
    the session ends before SessionStarted (fleet or the route to it not back yet)."""
    give_up = time.monotonic() + RECONNECT_LIMIT_SECONDS
    attempts = 0
    while True:
        attempts += 1
        try:
            return ScriptedCourier(target, token, f"{name}-{attempts}"), attempts
        except AssertionError:
            assert time.monotonic() < give_up, f"{name} found no session for a minute and a half"
            time.sleep(0.5)


def confirm_pickup(app: ScriptedCourier, delivery_id: str) -> None:
    pickup = courier_session_pb2.ConfirmPickup(delivery_id=delivery_id)
    app.ack_of(app.send(confirm_pickup=pickup))


def confirm_dropoff(app: ScriptedCourier, delivery_id: str) -> None:
    dropoff = courier_session_pb2.ConfirmDropoff(delivery_id=delivery_id)
    app.ack_of(app.send(confirm_dropoff=dropoff))


def accept_next_offer(app: ScriptedCourier) -> str:
    """Accept the offer that comes next; returns the assigned delivery's id."""
    offer = app.expect("offer").offer
    app.ack_of(app.send(accept_offer=courier_session_pb2.AcceptOffer(offer_id=offer.offer_id)))
    assignment = app.expect("assignment").assignment
    assert assignment.delivery_id == offer.delivery_id
    delivery_id: str = assignment.delivery_id
    return delivery_id
