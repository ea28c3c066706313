"""End to end: couriers hold sessions through the edge over native gRPC, dispatch offers
them the deliveries customers create over REST, and watchers follow over SSE.

Each test works in its own city, far from the others' couriers (dispatch offers only
couriers within 10 km of the pickup), so the tests of one module share a mesh safely."""

from __future__ import annotations

import http.client
import threading
import time
from typing import Any

import pytest

from lastmile.fleet.v1 import courier_session_pb2, offer_pb2
from services.identity.config import DEVELOPMENT_OPS_PASSWORD
from tests.e2e.conftest import RunningMesh
from tests.e2e.courier import ScriptedCourier
from tests.e2e.rest import (
    OPS_EMAIL,
    call,
    delivery_request,
    log_in,
    open_watch,
    point,
    sign_up,
    sse_events,
)

pytestmark = pytest.mark.slow

HAMBURG = (53.5511, 9.9937)
MUNICH = (48.1372, 11.5756)
COLOGNE = (50.9375, 6.9603)
FRANKFURT = (50.1109, 8.6821)
PING_INTERVAL_SECONDS = 0.5


def near(place: tuple[float, float], metres_north: float) -> tuple[float, float]:
    return place[0] + metres_north / 111_195, place[1]


def create_delivery(mesh: RunningMesh, token: str, place: tuple[float, float]) -> str:
    request = delivery_request(pickup=point(*place), dropoff=point(*near(place, 2_000)))
    status, created = call(mesh.base, "POST", "/v1/deliveries", request, token=token)
    assert status == 200, created
    delivery_id: str = created["delivery"]["deliveryId"]
    return delivery_id


def courier(mesh: RunningMesh, name: str, place: tuple[float, float]) -> ScriptedCourier:
    """A courier signed up, connected and online at `place`."""
    token = sign_up(mesh.base, f"{name}@example.com", "ROLE_COURIER")
    app = ScriptedCourier(mesh.grpc_target, token, name)
    app.go_online(*place)
    return app


class Watcher:
    """Reads a delivery's SSE stream in the background until the stream ends."""

    def __init__(self, mesh: RunningMesh, delivery_id: str, token: str) -> None:
        self.events: list[dict[str, Any]] = []
        self._connection = open_watch(mesh.ports.edge, delivery_id, token)
        response = self._connection.getresponse()
        assert response.status == 200
        self._thread = threading.Thread(target=self._read, args=(response,), daemon=True)
        self._thread.start()

    def _read(self, response: http.client.HTTPResponse) -> None:
        self.events.extend(e for e in sse_events(response) if "heartbeat" not in e)

    def seen(self, kind: str) -> bool:
        return any(kind in event for event in list(self.events))

    def finish(self) -> list[dict[str, Any]]:
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the watch did not end after the delivery"
        self._connection.close()
        return self.events


def test_a_delivery_is_offered_accepted_picked_up_and_delivered_while_its_watcher_sees_each_step(
    mesh: RunningMesh,
) -> None:
    customer = sign_up(mesh.base, "loop-customer@example.com", "ROLE_CUSTOMER")
    rider = courier(mesh, "loop-courier", near(HAMBURG, 300))
    delivery_id = create_delivery(mesh, customer, HAMBURG)
    watcher = Watcher(mesh, delivery_id, customer)

    offer = rider.expect("offer").offer
    assert offer.delivery_id == delivery_id
    assert not offer.pickup.HasField("contact"), "contacts are withheld until assignment"
    assert 200 < offer.pickup_distance_meters < 400
    rider.ack_of(rider.send(accept_offer=courier_session_pb2.AcceptOffer(offer_id=offer.offer_id)))
    assignment = rider.expect("assignment").assignment
    assert (assignment.delivery_id, assignment.offer_id) == (delivery_id, offer.offer_id)
    assert assignment.pickup.contact.name == "Shop"

    rider.move_to(*HAMBURG)
    rider.ack_of(
        rider.send(confirm_pickup=courier_session_pb2.ConfirmPickup(delivery_id=delivery_id))
    )
    # Ride on, reporting a fix every half second like the app does, until the watcher
    # has seen the courier move (fleet publishes each courier at most once a second).
    for metres in range(100, 4_000, 100):
        if watcher.seen("courierPosition"):
            break
        rider.move_to(*near(HAMBURG, metres))
        time.sleep(PING_INTERVAL_SECONDS)
    dropoff = courier_session_pb2.ConfirmDropoff(delivery_id=delivery_id)
    rider.ack_of(rider.send(confirm_dropoff=dropoff))

    events = watcher.finish()
    assert events[0]["snapshot"]["delivery"]["status"] == "DELIVERY_STATUS_PENDING"
    changes = [e["statusChange"] for e in events if "statusChange" in e]
    assert [c["status"] for c in changes] == [
        "DELIVERY_STATUS_ASSIGNED", "DELIVERY_STATUS_PICKED_UP", "DELIVERY_STATUS_DELIVERED",
    ]  # fmt: skip
    _, me = call(mesh.base, "GET", "/v1/me", token=rider_token(mesh, "loop-courier"))
    assert changes[0]["courierId"] == me["account"]["accountId"]
    assert watcher.seen("courierPosition")
    status, delivered = call(mesh.base, "GET", f"/v1/deliveries/{delivery_id}", token=customer)
    assert (status, delivered["delivery"]["status"]) == (200, "DELIVERY_STATUS_DELIVERED")
    rider.close()


def rider_token(mesh: RunningMesh, name: str) -> str:
    token, _ = log_in(mesh.base, f"{name}@example.com")
    return token


def decline(rider: ScriptedCourier, delivery_id: str) -> None:
    offer = rider.expect("offer").offer
    assert offer.delivery_id == delivery_id
    rider.ack_of(rider.send(decline_offer=courier_session_pb2.DeclineOffer(
        offer_id=offer.offer_id, reason=offer_pb2.DECLINE_REASON_TOO_FAR,
    )))  # fmt: skip


def queued_once_waiting(mesh: RunningMesh, delivery_id: str) -> dict[str, Any]:
    """The delivery's queue entry as ops see it, once it waits for a courier again."""
    ops, _ = log_in(mesh.base, OPS_EMAIL, DEVELOPMENT_OPS_PASSWORD)
    give_up = time.monotonic() + 30
    while True:
        status, page = call(mesh.base, "GET", "/v1/dispatch/queue?pageSize=500", token=ops)
        assert status == 200, page
        [entry] = [d for d in page["deliveries"] if d["deliveryId"] == delivery_id]
        if entry["state"] == "QUEUE_STATE_WAITING" or time.monotonic() > give_up:
            return entry  # type: ignore[no-any-return]
        time.sleep(0.2)


def test_a_declined_delivery_goes_to_the_next_courier_and_never_back_to_the_decliner(
    mesh: RunningMesh,
) -> None:
    customer = sign_up(mesh.base, "decline-customer@example.com", "ROLE_CUSTOMER")
    nearer = courier(mesh, "decline-nearer", near(MUNICH, 200))
    farther = courier(mesh, "decline-farther", near(MUNICH, 900))
    delivery_id = create_delivery(mesh, customer, MUNICH)

    decline(nearer, delivery_id)
    decline(farther, delivery_id)
    # Both couriers are idle again and nearby, yet nobody is offered it a third time.
    entry = queued_once_waiting(mesh, delivery_id)
    assert (entry["state"], entry["offerCount"], entry["declineCount"]) == (
        "QUEUE_STATE_WAITING", 2, 2,
    )  # fmt: skip
    newcomer = courier(mesh, "decline-newcomer", near(MUNICH, 1_500))
    assert newcomer.expect("offer").offer.delivery_id == delivery_id
    for app in (nearer, farther, newcomer):
        app.close()


def test_an_offer_nobody_answers_expires_and_moves_to_the_next_courier(
    mesh: RunningMesh,
) -> None:
    customer = sign_up(mesh.base, "timeout-customer@example.com", "ROLE_CUSTOMER")
    sleepy = courier(mesh, "timeout-sleepy", near(COLOGNE, 200))
    awake = courier(mesh, "timeout-awake", near(COLOGNE, 900))
    delivery_id = create_delivery(mesh, customer, COLOGNE)

    offer = sleepy.expect("offer").offer
    cancellation = sleepy.expect("offer_cancellation").offer_cancellation
    assert (cancellation.offer_id, cancellation.reason) == (
        offer.offer_id, offer_pb2.OFFER_CANCELLATION_REASON_EXPIRED,
    )  # fmt: skip
    assert awake.expect("offer").offer.delivery_id == delivery_id
    late = sleepy.send(accept_offer=courier_session_pb2.AcceptOffer(offer_id=offer.offer_id))
    refused = sleepy.expect("error")
    assert refused.error.client_message_id == late
    assert refused.error.status.code == 9  # FAILED_PRECONDITION: the offer is no longer held
    sleepy.close()
    awake.close()


def test_a_courier_who_drops_mid_offer_reconnects_and_still_holds_the_offer(
    mesh: RunningMesh,
) -> None:
    customer = sign_up(mesh.base, "resume-customer@example.com", "ROLE_CUSTOMER")
    rider = courier(mesh, "resume-courier", near(FRANKFURT, 300))
    delivery_id = create_delivery(mesh, customer, FRANKFURT)
    offer = rider.expect("offer").offer
    rider.close()

    again = ScriptedCourier(mesh.grpc_target, rider_token(mesh, "resume-courier"), "resume-2")
    assert again.session.resumed
    assert again.session.offer.offer_id == offer.offer_id
    again.ack_of(again.send(accept_offer=courier_session_pb2.AcceptOffer(offer_id=offer.offer_id)))
    assert again.expect("assignment").assignment.delivery_id == delivery_id
    again.close()
