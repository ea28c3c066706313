"""The courier agent against a fake fleet served by a real in-process gRPC server: the
process boundary the simulator crosses through the edge."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from lastmile.fleet.v1 import courier_pb2, courier_session_pb2_grpc
from services.shared_kernel.geo import GeoPoint
from services.simulator.city import CITIES
from services.simulator.courier_agent import CourierAgent
from services.simulator.courier_replies import DEFAULT_RESEND_SECONDS, retry_delay
from services.simulator.courier_state import CourierSettings, CourierState
from services.simulator.observations import Observations
from services.simulator.vehicles import Vehicle
from tests.unit.simulator.fake_fleet import FakeFleet

START = GeoPoint(52.5200, 13.4000)
# Fast enough to reach any stop of the fake within one tick; no waiting on the clock.
SETTINGS = CourierSettings(
    box=CITIES["berlin"], speedup=200, accept_probability=1.0, ping_interval=0.05,
    tick_seconds=0.02, thinking_seconds=(0.0, 0.01),
)  # fmt: skip


class FixedToken:
    async def access_token(self, *, renew: bool = False) -> str:
        return "token-1"


@dataclass
class Running:
    fleet: FakeFleet
    agent: CourierAgent
    observations: Observations
    stopping: asyncio.Event


async def eventually(check: Callable[[], bool], what: str, limit: float = 20) -> None:
    give_up = asyncio.get_running_loop().time() + limit
    while not check():
        assert asyncio.get_running_loop().time() < give_up, f"never: {what}"
        await asyncio.sleep(0.02)


async def _run(fleet: FakeFleet) -> AsyncIterator[Running]:
    server = grpc.aio.server()
    courier_session_pb2_grpc.add_CourierSessionServiceServicer_to_server(fleet, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    observations, stopping = Observations(), asyncio.Event()
    state = CourierState.new(Vehicle.BICYCLE, START, SETTINGS, random.Random(1))
    stub = courier_session_pb2_grpc.CourierSessionServiceStub(channel)
    agent = CourierAgent("courier-1", stub, FixedToken(), state, SETTINGS, observations)
    task = asyncio.create_task(agent.run(stopping))
    try:
        yield Running(fleet, agent, observations, stopping)
    finally:
        stopping.set()
        await asyncio.wait_for(task, timeout=10)
        await channel.close(grace=None)
        await server.stop(grace=1)


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    async for running in _run(FakeFleet()):
        yield running


@pytest.fixture
async def flaky_orders() -> AsyncIterator[Running]:
    async for running in _run(FakeFleet(fail_first_pickup=True)):
        yield running


async def test_a_courier_goes_online_accepts_picks_up_and_drops_off_in_order(
    running: Running,
) -> None:
    fleet = running.fleet
    await eventually(lambda: running.observations.counters.delivered == 1, "delivered")
    assert fleet.kinds(0) == ["go_online", "accept_offer", "confirm_pickup", "confirm_dropoff"]
    first = fleet.sessions[0]
    go_online = next(m for m in first if m.HasField("go_online"))
    assert go_online.go_online.vehicle_type == courier_pb2.VEHICLE_TYPE_BICYCLE
    assert go_online.go_online.location.point.latitude == pytest.approx(START.latitude, abs=0.05)
    assert next(m for m in first if m.HasField("accept_offer")).accept_offer.offer_id == "offer-1"
    delivery_ids = [
        m.confirm_pickup.delivery_id or m.confirm_dropoff.delivery_id
        for m in first
        if m.HasField("confirm_pickup") or m.HasField("confirm_dropoff")
    ]
    assert delivery_ids == ["d-1", "d-1"]
    ids = [m.client_message_id for m in first if not m.HasField("location_update")]
    assert all(ids)
    assert len(set(ids)) == len(ids)
    assert fleet.authorizations[0] == "Bearer token-1"


async def test_a_courier_reports_locations_while_online(running: Running) -> None:
    await eventually(lambda: running.observations.counters.delivered == 1, "delivered")
    updates = [m for m in running.fleet.sessions[0] if m.HasField("location_update")]
    assert updates
    assert all(not m.client_message_id for m in updates)
    assert all(1 <= len(m.location_update.locations) <= 100 for m in updates)


async def test_a_courier_reconnects_after_draining_and_resumes_without_going_online_again(
    running: Running,
) -> None:
    await eventually(lambda: len(running.fleet.sessions) >= 2, "a second session")
    await eventually(lambda: running.agent.state.online, "online again")
    assert running.fleet.kinds(1) == []  # resumed IDLE: no second GoOnline
    assert running.observations.counters.reconnects == 1
    assert running.fleet.authorizations == ["Bearer token-1", "Bearer token-1"]


async def test_a_stopping_courier_goes_offline_before_closing(running: Running) -> None:
    await eventually(lambda: len(running.fleet.sessions) >= 2, "a second session")
    await eventually(lambda: running.agent.state.online, "online again")
    running.stopping.set()
    await eventually(lambda: running.fleet.kinds(1) == ["go_offline"], "go offline")


async def test_a_pickup_refused_as_unavailable_is_sent_again_with_the_same_id(
    flaky_orders: Running,
) -> None:
    await eventually(lambda: flaky_orders.observations.counters.delivered == 1, "delivered")
    first = flaky_orders.fleet.sessions[0]
    pickups = [m.client_message_id for m in first if m.HasField("confirm_pickup")]
    assert len(pickups) == 2
    assert pickups[0] == pickups[1]
    assert flaky_orders.observations.counters.message_errors == 1
    assert flaky_orders.observations.counters.confirmation_retries == 1


def test_a_refusal_s_retry_info_sets_the_delay_before_the_confirmation_is_sent_again() -> None:
    retry = any_pb2.Any()
    retry.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=2)))
    with_delay = status_pb2.Status(code=code_pb2.UNAVAILABLE, details=[retry])

    assert retry_delay(with_delay) == 2.0
    assert retry_delay(status_pb2.Status(code=code_pb2.UNAVAILABLE)) == DEFAULT_RESEND_SECONDS
