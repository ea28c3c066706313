"""Fault: fleet is killed with SIGKILL while couriers carry deliveries (half of them
assigned and on the way to the pickup, half with the parcel on board). The supervisor
restarts fleet, every courier opens a new session and finds its delivery in it, and every
delivery is delivered exactly once, by the courier it was assigned to."""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.chaos.couriers import accept_next_offer, confirm_dropoff, confirm_pickup, reconnected
from tests.chaos.event_stream import events_once_published
from tests.chaos.figures import FaultFigures
from tests.chaos.mesh_faults import all_serving, kill, nats_url, restarted
from tests.e2e.conftest import RunningMesh
from tests.e2e.courier import ScriptedCourier
from tests.e2e.rest import call, delivery_request, log_in, point, sign_up

pytestmark = [pytest.mark.slow, pytest.mark.chaos(ci=False), pytest.mark.timeout(300)]

# One courier per city, each more than dispatch's 10 km offer radius from the others, so
# each delivery goes to the courier of its city.
CITIES = {
    "dresden": (51.0504, 13.7373),
    "hanover": (52.3759, 9.7320),
    "nuremberg": (49.4521, 11.0767),
    "stuttgart": (48.7758, 9.1829),
    "bremen": (53.0793, 8.8017),
    "dortmund": (51.5136, 7.4653),
}
NORTH_2_KM = 2_000 / 111_195


def on_duty(mesh: RunningMesh, city: str) -> tuple[ScriptedCourier, str, str]:
    """A courier signed up, connected and online in `city`: the app, its token, its id."""
    email = f"chaos-fleet-{city}@example.com"
    sign_up(mesh.base, email, "ROLE_COURIER")
    token, courier_id = log_in(mesh.base, email)
    app = ScriptedCourier(mesh.grpc_target, token, city)
    app.go_online(*CITIES[city])
    return app, token, courier_id


def create_in(mesh: RunningMesh, customer: str, city: str) -> str:
    latitude, longitude = CITIES[city]
    request = delivery_request(
        pickup=point(latitude, longitude), dropoff=point(latitude + NORTH_2_KM, longitude)
    )
    status, created = call(mesh.base, "POST", "/v1/deliveries", request, token=customer)
    assert status == 200, created
    delivery_id: str = created["delivery"]["deliveryId"]
    return delivery_id


def test_fleet_killed_mid_delivery_couriers_reconnect_and_each_delivery_is_delivered_once(
    mesh: RunningMesh, figures: FaultFigures
) -> None:
    asyncio.run(all_serving(mesh))
    customer = sign_up(mesh.base, "chaos-fleet-customer@example.com", "ROLE_CUSTOMER")
    couriers = {city: on_duty(mesh, city) for city in CITIES}
    deliveries = {city: create_in(mesh, customer, city) for city in CITIES}
    picked_up = set(list(CITIES)[::2])
    for city, (app, _, _) in couriers.items():
        assert accept_next_offer(app) == deliveries[city]
        if city in picked_up:
            confirm_pickup(app, deliveries[city])

    victim = kill(mesh, "fleet")
    for app, _, _ in couriers.values():
        app.close()
    # Every app tries again at once, as a real one does, while fleet is still down.
    with ThreadPoolExecutor(len(couriers)) as apps:
        reconnecting = {
            city: apps.submit(reconnected, mesh.grpc_target, token, city)
            for city, (_, token, _) in couriers.items()
        }
        back = asyncio.run(restarted(mesh, victim))
        sessions = {city: session.result() for city, session in reconnecting.items()}
    attempts = Counter({city: tries for city, (_, tries) in sessions.items()})
    resumed_with_assignment = 0
    for city, (app, _) in sessions.items():
        resumed_with_assignment += app.session.assignment.delivery_id == deliveries[city]
        if city not in picked_up:
            confirm_pickup(app, deliveries[city])
        confirm_dropoff(app, deliveries[city])
    # Back at work: the restarted fleet offers each courier the next delivery of its city.
    offered_after_restart = 0
    for city, (app, _) in sessions.items():
        next_delivery = create_in(mesh, customer, city)
        offered_after_restart += accept_next_offer(app) == next_delivery
        app.close()

    final = {city: delivery_of(mesh, customer, d) for city, d in deliveries.items()}
    ids = set(deliveries.values())
    url = nats_url(mesh)
    delivered = asyncio.run(events_once_published(url, "lastmile.delivery.delivered", ids))
    assigned = asyncio.run(events_once_published(url, "lastmile.delivery.assigned", ids))
    figures.record(
        cases=len(deliveries),
        picked_up_before_kill=len(picked_up),
        reconnect_attempts=dict(attempts),
        reconnected=len(sessions),
        resumed_with_assignment=resumed_with_assignment,
        offered_after_restart=offered_after_restart,
        delivered=sum(1 for d in final.values() if d["status"] == "DELIVERY_STATUS_DELIVERED"),
        delivered_events=sum(delivered[d] for d in ids),
        assigned_events=sum(assigned[d] for d in ids),
        fleet_restarts=back.restarts,
    )

    assert resumed_with_assignment == len(CITIES), "a new session lost the courier's delivery"
    assert offered_after_restart == len(CITIES)
    for city, delivery in final.items():
        assert (delivery["status"], delivery["courierId"]) == (
            "DELIVERY_STATUS_DELIVERED", couriers[city][2],
        )  # fmt: skip
    assert {d: delivered[d] for d in ids} == dict.fromkeys(ids, 1)
    assert {d: assigned[d] for d in ids} == dict.fromkeys(ids, 1)


def delivery_of(mesh: RunningMesh, customer: str, delivery_id: str) -> dict[str, str]:
    status, body = call(mesh.base, "GET", f"/v1/deliveries/{delivery_id}", token=customer)
    assert status == 200, body
    delivery: dict[str, str] = body["delivery"]
    return delivery
