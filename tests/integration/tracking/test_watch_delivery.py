"""WatchDelivery over gRPC, with a real orders and real NATS: the whole life of a
delivery in order, authorization by orders, one shared upstream, and draining."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import nats
import pytest
from google.rpc import error_details_pb2

from lastmile.common.v1 import geo_pb2
from lastmile.events.v1 import courier_events_pb2
from lastmile.fleet.v1 import courier_pb2
from lastmile.orders.v1 import delivery_pb2, orders_internal_pb2
from lastmile.tracking.v1 import tracking_pb2
from services.contracts import common_v1
from services.devstack import LocalNats
from services.runtime.events.envelope import new_envelope
from services.runtime.status import rich_status
from tests.integration.tracking.conftest import TrackingStack
from tests.orders_examples import Account, account, create_request

pytestmark = pytest.mark.slow
# grpc-stubs lacks grpc.aio.EOF, what read() returns once a stream has ended.
EOF: object = grpc.aio.EOF  # type: ignore[attr-defined]
Stream = grpc.aio.UnaryStreamCall[
    tracking_pb2.WatchDeliveryRequest, tracking_pb2.WatchDeliveryResponse
]


async def new_delivery(stack: TrackingStack, owner: Account) -> str:
    reply = await stack.orders.CreateDelivery(create_request(), metadata=owner.metadata)
    return reply.delivery.delivery_id


def watch(stack: TrackingStack, delivery_id: str, watcher: Account) -> Stream:
    return stack.tracking.WatchDelivery(
        tracking_pb2.WatchDeliveryRequest(delivery_id=delivery_id), metadata=watcher.metadata
    )


async def next_news(stream: Stream) -> tracking_pb2.WatchDeliveryResponse:
    """The next message that is not a heartbeat."""
    while True:
        message = await stream.read()
        assert isinstance(message, tracking_pb2.WatchDeliveryResponse), "the stream ended"
        if not message.HasField("heartbeat"):
            return message


def courier_command(delivery_id: str) -> dict[str, str]:
    return {"delivery_id": delivery_id, "courier_id": "courier-7", "offer_id": "offer-1"}


async def publish_position(nats_server: LocalNats, delivery_id: str) -> None:
    position = courier_pb2.CourierPosition(
        courier_id="courier-7",
        location=courier_pb2.Location(
            point=geo_pb2.GeoPoint(latitude=52.52, longitude=13.41),
            recorded_time=common_v1.timestamp_message(datetime.now(UTC)),
        ),
    )
    envelope = new_envelope(
        event_type="lastmile.courier.position_changed",
        source="fleet",
        subject="courier-7",
        payload=courier_events_pb2.CourierPositionChanged(
            position=position, delivery_id=delivery_id
        ),
    )
    client = await nats.connect(nats_server.url)
    try:
        await client.jetstream().publish(
            "lastmile.courier.position_changed.courier-7", envelope.SerializeToString()
        )
    finally:
        await client.close()


async def test_a_watcher_sees_the_snapshot_then_every_step_in_order_then_the_end(
    stack: TrackingStack, nats: LocalNats
) -> None:
    customer = account("customer")
    delivery_id = await new_delivery(stack, customer)
    stream = watch(stack, delivery_id, customer)
    snapshot = (await next_news(stream)).snapshot
    assert (snapshot.delivery.delivery_id, snapshot.delivery.status) == (
        delivery_id,
        delivery_pb2.DELIVERY_STATUS_PENDING,
    )
    command = courier_command(delivery_id)
    await stack.internal.AssignCourier(orders_internal_pb2.AssignCourierRequest(**command))
    assigned = (await next_news(stream)).status_change
    assert (assigned.status, assigned.version, assigned.courier_id) == (
        delivery_pb2.DELIVERY_STATUS_ASSIGNED,
        2,
        "courier-7",
    )
    await publish_position(nats, delivery_id)
    position = (await next_news(stream)).courier_position
    assert (position.courier_id, position.location.point.latitude) == ("courier-7", 52.52)
    await stack.internal.MarkPickedUp(orders_internal_pb2.MarkPickedUpRequest(**command))
    assert (await next_news(stream)).status_change.status == delivery_pb2.DELIVERY_STATUS_PICKED_UP
    await stack.internal.MarkDelivered(orders_internal_pb2.MarkDeliveredRequest(**command))
    delivered = (await next_news(stream)).status_change
    assert (delivered.status, delivered.version) == (delivery_pb2.DELIVERY_STATUS_DELIVERED, 4)
    assert await stream.read() is EOF
    assert await stream.code() == grpc.StatusCode.OK


async def test_another_customer_gets_not_found(stack: TrackingStack) -> None:
    delivery_id = await new_delivery(stack, account("customer"))
    stream = watch(stack, delivery_id, account("customer"))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stream.read()
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


async def test_two_watchers_of_one_delivery_share_one_upstream_subscription(
    stack: TrackingStack,
) -> None:
    customer = account("customer")
    delivery_id = await new_delivery(stack, customer)
    streams = [watch(stack, delivery_id, customer), watch(stack, delivery_id, account("ops"))]
    for stream in streams:
        assert (await next_news(stream)).HasField("snapshot")
    command = courier_command(delivery_id)
    await stack.internal.AssignCourier(orders_internal_pb2.AssignCourierRequest(**command))
    for stream in streams:
        assert (await next_news(stream)).status_change.courier_id == "courier-7"
    assert (stack.events.delivery_subscriptions, stack.events.courier_subscriptions) == (1, 1)
    for stream in streams:
        stream.cancel()


async def test_shutdown_tells_watchers_to_reconnect(stack: TrackingStack) -> None:
    customer = account("customer")
    stream = watch(stack, await new_delivery(stack, customer), customer)
    assert (await next_news(stream)).HasField("snapshot")
    await stack.host.stop()
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await next_news(stream)
    assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
    status = rich_status(ended.value)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert any(detail.Unpack(info) for detail in status.details)
    assert info.reason == "DRAINING"
