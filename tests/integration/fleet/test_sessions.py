"""The courier session over gRPC: who may connect, what comes first, how messages are
answered, and how sessions end (replaced, timed out, drained)."""

from __future__ import annotations

import grpc
import pytest

from lastmile.fleet.v1 import courier_pb2, fleet_internal_pb2
from lastmile.fleet.v1 import courier_session_pb2 as session_pb2
from tests.integration.fleet.conftest import FleetFactory, FleetStack, wait_until
from tests.integration.fleet.courier_app import location
from tests.status_details import error_info, field_violations

pytestmark = pytest.mark.slow


async def test_a_customer_may_not_open_a_courier_session(fleet: FleetStack) -> None:
    app = fleet.courier(role="customer")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await app.next()
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_caller_without_identity_is_unauthenticated(fleet: FleetStack) -> None:
    call = fleet.sessions.Connect()  # type: ignore[call-arg]  # written with write()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call.read()
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_the_first_message_is_session_started_with_a_fresh_offline_state(
    fleet: FleetStack,
) -> None:
    app = fleet.courier()
    started = (await app.next()).session_started
    assert started.session_id
    assert (started.resumed, started.status) == (False, courier_pb2.COURIER_STATUS_OFFLINE)
    assert started.heartbeat_timeout.seconds == fleet.settings.heartbeat_timeout_seconds


async def test_going_online_reaches_dispatch_after_hello_and_snapshot(fleet: FleetStack) -> None:
    await wait_until(lambda: fleet.dispatch.of_kind("snapshot"))
    app = fleet.courier()
    await app.next("session_started")
    await app.go_online()
    changed = await wait_until(
        lambda: [
            r.courier_changed.courier
            for r in fleet.dispatch.of_kind("courier_changed")
            if r.courier_changed.courier.courier_id == app.courier_id
            and r.courier_changed.courier.status == courier_pb2.COURIER_STATUS_IDLE
        ]
    )
    assert changed[-1].vehicle_type == courier_pb2.VEHICLE_TYPE_BICYCLE
    kinds = [r.WhichOneof("message") for r in fleet.dispatch.received]
    assert kinds[0] == "hello"
    assert kinds.index("snapshot") < kinds.index("courier_changed")
    assert fleet.dispatch.received[0].hello.fleet_replica_id == fleet.settings.replica_id


async def test_a_malformed_message_gets_invalid_argument_and_the_session_goes_on(
    fleet: FleetStack,
) -> None:
    app = fleet.courier()
    await app.next("session_started")
    bad_batch = session_pb2.LocationUpdate(
        locations=[location(latitude=123.0), courier_pb2.Location()]
    )
    rejected = (await app.ask(location_update=bad_batch)).error
    assert rejected.status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert field_violations(rejected.status) == {
        "location_update.locations[0].point.latitude",
        "location_update.locations[1].point",
        "location_update.locations[1].recorded_time",
    }
    empty = (await app.ask()).error
    assert field_violations(empty.status) == {"message"}
    assert (await app.ask(heartbeat=session_pb2.Heartbeat())).HasField("ack")


async def test_a_nul_in_a_decline_note_is_refused_alone_and_the_session_goes_on(
    fleet: FleetStack,
) -> None:
    app = fleet.courier()
    await app.next("session_started")
    decline = session_pb2.DeclineOffer(offer_id="o-1", note="too\x00far")
    rejected = (await app.ask(decline_offer=decline)).error
    assert rejected.status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert field_violations(rejected.status) == {"decline_offer.note"}
    assert (await app.ask(heartbeat=session_pb2.Heartbeat())).HasField("ack")


async def test_a_resent_message_is_answered_the_same_and_applied_once(fleet: FleetStack) -> None:
    app = fleet.courier()
    await app.next("session_started")
    go_online = session_pb2.GoOnline(vehicle_type=courier_pb2.VEHICLE_TYPE_CAR)
    await app.send("same-id", go_online=go_online)
    assert (await app.answer_to("same-id")).HasField("ack")
    await app.send("same-id", go_online=go_online)
    assert (await app.answer_to("same-id")).HasField("ack")
    offline = (await app.ask(go_offline=session_pb2.GoOffline())).HasField("ack")
    assert offline
    # Re-sending the old GoOnline after going offline is not applied again.
    await app.send("same-id", go_online=go_online)
    assert (await app.answer_to("same-id")).HasField("ack")
    reply = await fleet.internal.GetCourier(
        fleet_internal_pb2.GetCourierRequest(courier_id=app.courier_id)
    )
    assert reply.courier.status == courier_pb2.COURIER_STATUS_OFFLINE
    events = [e for e in await fleet.outbox() if e.subject == app.courier_id]
    assert [e.sequence for e in events] == [1, 2, 3]


async def test_a_reconnect_replaces_the_old_session_and_keeps_the_state(fleet: FleetStack) -> None:
    first = fleet.courier()
    await first.next("session_started")
    await first.go_online()
    second = fleet.courier(first.courier_id)
    started = (await second.next("session_started")).session_started
    assert (started.resumed, started.status) == (True, courier_pb2.COURIER_STATUS_IDLE)
    closing = (await first.next("session_closing")).session_closing
    assert closing.reason == session_pb2.SESSION_CLOSING_REASON_REPLACED
    assert await first.ended() == grpc.StatusCode.OK
    assert (await second.ask(heartbeat=session_pb2.Heartbeat())).HasField("ack")


async def test_a_silent_session_times_out_and_the_courier_goes_offline(
    start_fleet: FleetFactory,
) -> None:
    async with start_fleet(heartbeat_interval_seconds=0.1, heartbeat_timeout_seconds=0.4) as fleet:
        app = fleet.courier()
        await app.next("session_started")
        await app.go_online()
        closing = (await app.next("session_closing")).session_closing
        assert closing.reason == session_pb2.SESSION_CLOSING_REASON_HEARTBEAT_TIMEOUT
        assert await app.ended() == grpc.StatusCode.OK  # though the app never closed its side
        request = fleet_internal_pb2.GetCourierRequest(courier_id=app.courier_id)

        async def offline() -> bool:
            courier = (await fleet.internal.GetCourier(request)).courier
            return courier.status == courier_pb2.COURIER_STATUS_OFFLINE and not courier.connected

        await wait_until(offline)


async def test_an_app_that_closes_its_side_gets_what_was_queued_then_ok(
    fleet: FleetStack,
) -> None:
    app = fleet.courier()
    await app.next("session_started")
    await app.send("hb-1", heartbeat=session_pb2.Heartbeat())
    await app.send("hb-2", heartbeat=session_pb2.Heartbeat())
    await app.call.done_writing()
    acked = [(await app.next("ack")).ack.client_message_id for _ in range(2)]
    assert acked == ["hb-1", "hb-2"]
    assert await app.ended() == grpc.StatusCode.OK


async def test_get_courier_answers_not_found_and_invalid_argument(fleet: FleetStack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await fleet.internal.GetCourier(fleet_internal_pb2.GetCourierRequest(courier_id="nobody"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as empty:
        await fleet.internal.GetCourier(fleet_internal_pb2.GetCourierRequest())
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_get_courier_shows_status_and_last_location(fleet: FleetStack) -> None:
    app = fleet.courier()
    await app.next("session_started")
    await app.go_online()
    moved = session_pb2.LocationUpdate(locations=[location(52.5, 13.3)])
    assert (await app.ask(location_update=moved)).HasField("ack")
    courier = (
        await fleet.internal.GetCourier(
            fleet_internal_pb2.GetCourierRequest(courier_id=app.courier_id)
        )
    ).courier
    assert (courier.status, courier.connected) == (courier_pb2.COURIER_STATUS_IDLE, True)
    assert courier.last_location.point.latitude == 52.5


async def test_draining_tells_sessions_to_reconnect_later(start_fleet: FleetFactory) -> None:
    async with start_fleet(drain_reconnect_spread_seconds=3) as fleet:
        app = fleet.courier()
        await app.next("session_started")
        await app.go_online()
        await fleet.host.stop()
        closing = (await app.next("session_closing")).session_closing
        assert closing.reason == session_pb2.SESSION_CLOSING_REASON_DRAINING
        assert closing.reconnect_after.ToTimedelta().total_seconds() <= 3
        assert await app.ended() == grpc.StatusCode.UNAVAILABLE


async def test_a_state_refusal_names_the_current_state(fleet: FleetStack) -> None:
    app = fleet.courier()
    await app.next("session_started")
    refused = (await app.ask(confirm_pickup=session_pb2.ConfirmPickup(delivery_id="d-1"))).error
    assert refused.status.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert error_info(refused.status).metadata["current_state"] == "COURIER_STATUS_OFFLINE"


async def test_a_courier_sending_too_fast_is_cut_off_with_resource_exhausted(
    start_fleet: FleetFactory,
) -> None:
    async with start_fleet(messages_per_second=1, message_burst=3) as fleet:
        app = fleet.courier()
        await app.next("session_started")
        for _ in range(4):  # the burst, and one more
            await app.send(heartbeat=session_pb2.Heartbeat())
        assert await app.ended() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_each_shift_is_recorded_with_its_vehicle_and_end(fleet: FleetStack) -> None:
    app = fleet.courier()
    await app.next("session_started")
    await app.go_online()
    assert (await app.ask(go_offline=session_pb2.GoOffline())).HasField("ack")
    shifts = await fleet.database.pool.fetch(
        "SELECT vehicle_type, end_reason FROM shifts WHERE courier_id = $1", app.courier_id
    )
    assert [tuple(shift) for shift in shifts] == [("BICYCLE", "WENT_OFFLINE")]
