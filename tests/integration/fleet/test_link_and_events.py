"""What leaves fleet besides the sessions: the Link to the fake dispatch (coalesced
positions, a reconnect after a cut with a fresh snapshot), positions for tracking on
NATS, status events through the outbox, and a slow courier that holds nobody up."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import grpc
import nats
import pytest
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from lastmile.dispatch.v1 import dispatch_internal_pb2 as link_pb2
from lastmile.events.v1 import courier_events_pb2, envelope_pb2
from lastmile.fleet.v1 import courier_pb2, courier_session_pb2_grpc, fleet_internal_pb2
from lastmile.fleet.v1 import courier_session_pb2 as session_pb2
from services.devstack import LocalNats
from services.fleet.service_layer.metrics import SESSION_CLOSES
from services.tracking.adapters.envelope_reading import read_fix
from tests.integration.fleet import dispatch_messages
from tests.integration.fleet.conftest import FleetFactory, FleetStack, wait_until
from tests.integration.fleet.courier_app import CourierApp, location
from tests.integration.fleet.fake_dispatch import FakeDispatchServer

pytestmark = pytest.mark.slow


async def online_courier(fleet: FleetStack) -> CourierApp:
    app = fleet.courier()
    await app.next("session_started")
    await app.go_online()
    return app


def batches_of(fleet: FleetStack, courier_id: str) -> list[courier_pb2.Location]:
    """The positions dispatch got for the courier, checking each batch has one at most."""
    found = []
    for request in fleet.dispatch.of_kind("positions"):
        mine = [p.location for p in request.positions.positions if p.courier_id == courier_id]
        assert len(mine) <= 1, "a batch carries at most one position per courier"
        found += mine
    return found


async def test_pings_reach_dispatch_coalesced_with_only_the_newest_fix(fleet: FleetStack) -> None:
    app = await online_courier(fleet)
    for age, latitude in ((30, 52.1), (20, 52.2), (10, 52.3)):
        update = session_pb2.LocationUpdate(locations=[location(latitude, age_seconds=age)])
        await app.send(location_update=update)
    stale = session_pb2.LocationUpdate(locations=[location(50.0, age_seconds=60)])
    assert (await app.ask(location_update=stale)).HasField("ack")
    newest = await wait_until(
        lambda: [loc for loc in batches_of(fleet, app.courier_id) if loc.point.latitude == 52.3]
    )
    assert newest
    assert 50.0 not in [loc.point.latitude for loc in batches_of(fleet, app.courier_id)]


async def test_after_a_cut_the_link_comes_back_with_hello_and_a_current_snapshot(
    fleet: FleetStack,
) -> None:
    app = await online_courier(fleet)
    await wait_until(lambda: fleet.dispatch.of_kind("courier_changed"))
    await fleet.dispatch_server.stop()
    replacement = FakeDispatchServer(fleet.dispatch_server.port)
    fleet.dispatch_server = replacement
    await replacement.start()

    def snapshot_with_courier() -> list[courier_pb2.Courier]:
        return [
            courier
            for request in replacement.fake.of_kind("snapshot")
            for courier in request.snapshot.couriers
            if courier.courier_id == app.courier_id
        ]

    couriers = await wait_until(snapshot_with_courier, limit=60)
    assert couriers[0].status == courier_pb2.COURIER_STATUS_IDLE
    assert replacement.fake.received[0].HasField("hello")
    assert replacement.fake.of_kind("snapshot")[-1].snapshot.last_chunk
    assert (await app.ask(go_offline=session_pb2.GoOffline())).HasField("ack")
    await wait_until(
        lambda: [
            r
            for r in replacement.fake.of_kind("courier_changed")
            if r.courier_changed.courier.status == courier_pb2.COURIER_STATUS_OFFLINE
        ]
    )


@contextlib.asynccontextmanager
async def collected(
    server: LocalNats, subject: str, deliver: DeliverPolicy
) -> AsyncIterator[list[envelope_pb2.EventEnvelope]]:
    received: list[envelope_pb2.EventEnvelope] = []

    async def keep(message: Msg) -> None:
        received.append(envelope_pb2.EventEnvelope.FromString(message.data))

    client = await nats.connect(server.url)
    try:
        js = client.jetstream()
        await js.subscribe(subject, cb=keep, ordered_consumer=True, deliver_policy=deliver)
        yield received
    finally:
        await client.close()


async def test_positions_of_a_courier_carrying_a_delivery_are_published_for_tracking(
    fleet: FleetStack, nats: LocalNats
) -> None:
    app = await online_courier(fleet)
    subject = f"lastmile.courier.position_changed.{app.courier_id}"
    async with collected(nats, subject, DeliverPolicy.ALL) as envelopes:
        # IDLE: dispatch gets the position, tracking (which shows only carried
        # deliveries) does not.
        update = session_pb2.LocationUpdate(locations=[location(52.3)])
        assert (await app.ask(location_update=update)).HasField("ack")
        await wait_until(lambda: batches_of(fleet, app.courier_id))
        await asyncio.sleep(fleet.settings.position_publish_seconds * 1.5)
        assert envelopes == []

        sent = dispatch_messages.offer(app.courier_id, str(uuid.uuid4()))
        fleet.dispatch.push(sent)
        offer_id = (await app.next("offer")).offer.offer_id
        accept = session_pb2.AcceptOffer(offer_id=offer_id)
        assert (await app.ask(accept_offer=accept)).HasField("ack")
        fleet.dispatch.push(dispatch_messages.assignment(sent))
        await app.next("assignment")
        update = session_pb2.LocationUpdate(locations=[location(52.4)])
        assert (await app.ask(location_update=update)).HasField("ack")

        def published() -> list[courier_events_pb2.CourierPositionChanged]:
            events = []
            for envelope in envelopes:
                payload = courier_events_pb2.CourierPositionChanged()
                assert envelope.payload.Unpack(payload)
                events.append(payload)
            return events

        events = await wait_until(published)
    assert [read_fix(event).latitude for event in events] == [52.4]
    assert events[0].delivery_id == sent.offer.offer.delivery_id
    assert (envelopes[-1].type, envelopes[-1].source, envelopes[-1].subject) == (
        "lastmile.courier.position_changed",
        "fleet",
        app.courier_id,
    )


async def test_status_changes_are_published_in_order_through_the_outbox(
    fleet: FleetStack, nats: LocalNats
) -> None:
    app = await online_courier(fleet)
    async with collected(nats, "lastmile.courier.status_changed", DeliverPolicy.ALL) as envelopes:
        mine = await wait_until(
            lambda: [e for e in envelopes if e.subject == app.courier_id][1:] and envelopes
        )
    events = [e for e in mine if e.subject == app.courier_id]
    assert [e.sequence for e in events] == [1, 2]
    went_online = courier_events_pb2.CourierStatusChanged()
    assert events[1].payload.Unpack(went_online)
    assert (went_online.previous_status, went_online.courier.status) == (
        courier_pb2.COURIER_STATUS_OFFLINE,
        courier_pb2.COURIER_STATUS_IDLE,
    )


async def test_a_courier_who_never_reads_holds_up_neither_others_nor_the_link(
    start_fleet: FleetFactory,
) -> None:
    closed_before = SESSION_CLOSES.labels("slow_consumer")._value.get()
    settings = {"session_queue_size": 4, "slow_consumer_seconds": 0.5,
                "messages_per_second": 10_000, "message_burst": 10_000}  # fmt: skip
    async with start_fleet(**settings) as fleet:
        address = f"127.0.0.1:{fleet.host.port}"
        # A client that does not grow its receive window, so unread messages back up.
        options = [("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 1024)]
        async with grpc.aio.insecure_channel(address, options=options) as channel:
            stub = courier_session_pb2_grpc.CourierSessionServiceStub(channel)
            slow = CourierApp(stub, f"slow-{uuid.uuid4().hex[:8]}", "courier")
            await slow.next("session_started")
            await slow.go_online()
            flood = asyncio.create_task(send_bad_batches_forever(slow))
            other = await online_courier(fleet)

            async def slow_one_cut_off() -> bool:
                request = fleet_internal_pb2.GetCourierRequest(courier_id=slow.courier_id)
                return not (await fleet.internal.GetCourier(request)).courier.connected

            await wait_until(slow_one_cut_off)
            sent = dispatch_messages.offer(slow.courier_id, str(uuid.uuid4()))
            fleet.dispatch.push(sent)
            outcome = await wait_until(
                lambda: [
                    r.offer_response.outcome
                    for r in fleet.dispatch.of_kind("offer_response")
                    if r.offer_response.offer_id == sent.offer.offer.offer_id
                ]
            )
            assert outcome == [link_pb2.OFFER_OUTCOME_UNDELIVERABLE]
            assert (await other.ask(heartbeat=session_pb2.Heartbeat())).HasField("ack")
            flood.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flood
    assert SESSION_CLOSES.labels("slow_consumer")._value.get() > closed_before


async def send_bad_batches_forever(app: CourierApp) -> None:
    """Messages whose MessageErrors are large: 100 fixes, each with two bad coordinates."""
    bad = session_pb2.LocationUpdate(locations=[location(123.0, 456.0) for _ in range(100)])
    with contextlib.suppress(grpc.aio.AioRpcError, grpc.aio.UsageError):
        while True:
            await app.send(location_update=bad)
