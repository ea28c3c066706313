"""The contract's request rules in the runtime's pipeline: checked before any handler
runs, for all four RPC kinds, named field by field; per message on the streams that
answer each message alone."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, ClassVar, cast

import grpc
import pytest

from lastmile.common.v1 import geo_pb2, parcel_pb2
from lastmile.dispatch.v1 import dispatch_pb2
from lastmile.fleet.v1 import courier_pb2
from lastmile.fleet.v1 import courier_session_pb2 as session_pb2
from lastmile.fleet.v1 import courier_session_pb2_grpc as session_grpc
from lastmile.orders.v1 import delivery_pb2, orders_pb2, orders_pb2_grpc
from lastmile.pricing.v1 import pricing_pb2, pricing_pb2_grpc
from lastmile.tracking.v1 import tracking_pb2, tracking_pb2_grpc
from services.runtime import validation
from services.runtime.config import ServiceSettings
from services.runtime.server import ServiceBinding, ServiceHost
from tests.orders_examples import delivery
from tests.servers import serving
from tests.status_details import error_info, violations

TERMS = pricing_pb2.DeliveryTerms(
    pickup=geo_pb2.GeoPoint(latitude=52.52, longitude=13.41),
    dropoff=geo_pb2.GeoPoint(latitude=52.53, longitude=13.41),
    parcel=parcel_pb2.Parcel(size=parcel_pb2.PARCEL_SIZE_SMALL, weight_grams=1000),
    service_level=parcel_pb2.SERVICE_LEVEL_STANDARD,
)


UNSPECIFIED = delivery_pb2.DELIVERY_STATUS_UNSPECIFIED
UNKNOWN = cast(delivery_pb2.DeliveryStatus.ValueType, 42)


class Settings(ServiceSettings):
    """Port 0, no admin server."""

    service_name: ClassVar[str] = "validation"
    admin_port: int = -1
    shutdown_grace_seconds: float = 1.0


class Recorder:
    """What reached the handlers: one list of requests per method."""

    def __init__(self) -> None:
        self.seen: dict[str, list[Any]] = {}

    def saw(self, method: str, request: Any) -> None:
        self.seen.setdefault(method, []).append(request)


class Pricing(pricing_pb2_grpc.PricingServiceServicer):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    async def CreateQuote(
        self, request: pricing_pb2.CreateQuoteRequest, context: Any
    ) -> pricing_pb2.CreateQuoteResponse:
        self.recorder.saw("CreateQuote", request)
        return pricing_pb2.CreateQuoteResponse()


class Tracking(tracking_pb2_grpc.TrackingServiceServicer):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    async def WatchDelivery(
        self, request: tracking_pb2.WatchDeliveryRequest, context: Any
    ) -> AsyncIterator[tracking_pb2.WatchDeliveryResponse]:
        self.recorder.saw("WatchDelivery", request)
        yield tracking_pb2.WatchDeliveryResponse()


class Orders(orders_pb2_grpc.OrdersServiceServicer):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    async def ImportDeliveries(
        self, request_iterator: AsyncIterable[Any], context: Any
    ) -> orders_pb2.ImportDeliveriesResponse:
        count = 0
        async for request in request_iterator:
            self.recorder.saw("ImportDeliveries", request)
            count += 1
        return orders_pb2.ImportDeliveriesResponse(item_count=count)


class Sessions(session_grpc.CourierSessionServiceServicer):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    async def Connect(
        self, request_iterator: AsyncIterable[Any], context: Any
    ) -> AsyncIterator[session_pb2.ConnectResponse]:
        async for request in request_iterator:
            self.recorder.saw("Connect", request)
            yield session_pb2.ConnectResponse(ack=session_pb2.Ack())


def host(recorder: Recorder) -> ServiceHost:
    return ServiceHost(
        Settings(),
        bindings=[
            ServiceBinding(
                "lastmile.pricing.v1.PricingService",
                Pricing(recorder),
                pricing_pb2_grpc.add_PricingServiceServicer_to_server,
            ),
            ServiceBinding(
                "lastmile.tracking.v1.TrackingService",
                Tracking(recorder),
                tracking_pb2_grpc.add_TrackingServiceServicer_to_server,
            ),
            ServiceBinding(
                "lastmile.orders.v1.OrdersService",
                Orders(recorder),  # type: ignore[abstract]  # only ImportDeliveries is called
                orders_pb2_grpc.add_OrdersServiceServicer_to_server,
                per_message_methods=frozenset({"ImportDeliveries"}),
            ),
            ServiceBinding(
                "lastmile.fleet.v1.CourierSessionService",
                Sessions(recorder),
                session_grpc.add_CourierSessionServiceServicer_to_server,
            ),
        ],
    )


async def read_all(call: AsyncIterable[Any], into: list[Any]) -> None:
    async for answer in call:
        into.append(answer)


@pytest.fixture
async def channel_and_recorder() -> AsyncIterator[tuple[grpc.aio.Channel, Recorder]]:
    recorder = Recorder()
    async with serving(host(recorder)) as address, grpc.aio.insecure_channel(address) as channel:
        yield channel, recorder


async def test_an_invalid_unary_request_is_refused_before_the_handler_runs(
    channel_and_recorder: tuple[grpc.aio.Channel, Recorder],
) -> None:
    channel, recorder = channel_and_recorder
    bad = pricing_pb2.DeliveryTerms()
    bad.CopyFrom(TERMS)
    bad.pickup.latitude = 91
    bad.parcel.description = "glass\x00"
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await pricing_pb2_grpc.PricingServiceStub(channel).CreateQuote(
            pricing_pb2.CreateQuoteRequest(terms=bad)
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).reason == "VALIDATION_FAILED"
    assert violations(raised.value) == {
        "terms.pickup.latitude": "must be greater than or equal to -90 and less than or "
        "equal to 90",
        "terms.parcel.description": "must not contain control characters",
    }
    assert "terms.pickup.latitude" in (raised.value.details() or "")
    assert "CreateQuote" not in recorder.seen


async def test_a_valid_unary_request_reaches_the_handler_unchanged(
    channel_and_recorder: tuple[grpc.aio.Channel, Recorder],
) -> None:
    channel, recorder = channel_and_recorder
    request = pricing_pb2.CreateQuoteRequest(terms=TERMS)
    await pricing_pb2_grpc.PricingServiceStub(channel).CreateQuote(request)
    assert recorder.seen["CreateQuote"] == [request]


async def test_an_invalid_server_stream_request_is_refused_before_the_handler_runs(
    channel_and_recorder: tuple[grpc.aio.Channel, Recorder],
) -> None:
    channel, recorder = channel_and_recorder
    call = tracking_pb2_grpc.TrackingServiceStub(channel).WatchDelivery(
        tracking_pb2.WatchDeliveryRequest(delivery_id="")
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await read_all(call, [])
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert violations(raised.value) == {"delivery_id": "is required"}
    assert "WatchDelivery" not in recorder.seen


async def test_a_per_message_stream_hands_an_invalid_item_over_as_such_and_goes_on(
    channel_and_recorder: tuple[grpc.aio.Channel, Recorder],
) -> None:
    channel, recorder = channel_and_recorder
    good = orders_pb2.ImportDeliveriesRequest(delivery=delivery(), idempotency_key="ok")
    bad = orders_pb2.ImportDeliveriesRequest(idempotency_key="nul\x00")

    async def items() -> AsyncIterator[orders_pb2.ImportDeliveriesRequest]:
        yield bad
        yield good

    summary = await orders_pb2_grpc.OrdersServiceStub(channel).ImportDeliveries(items())
    assert summary.item_count == 2
    first, second = recorder.seen["ImportDeliveries"]
    assert isinstance(first, validation.InvalidMessage)
    assert first.message == bad
    assert {v.field for v in first.error.violations} == {"delivery", "idempotency_key"}
    assert second == good


async def test_a_stream_without_per_message_answers_ends_at_its_first_invalid_message(
    channel_and_recorder: tuple[grpc.aio.Channel, Recorder],
) -> None:
    channel, recorder = channel_and_recorder
    heartbeat = session_pb2.ConnectRequest(heartbeat=session_pb2.Heartbeat())

    async def messages() -> AsyncIterator[session_pb2.ConnectRequest]:
        yield heartbeat
        yield session_pb2.ConnectRequest(client_message_id="2")  # no member of the oneof
        yield heartbeat

    call = session_grpc.CourierSessionServiceStub(channel).Connect(messages())
    answers: list[session_pb2.ConnectResponse] = []
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await read_all(call, answers)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert violations(raised.value) == {"message": "exactly one field is required in oneof"}
    assert recorder.seen["Connect"] == [heartbeat]
    assert len(answers) == 1


@pytest.mark.parametrize(
    ("request_message", "expected"),
    [
        (orders_pb2.ListDeliveriesRequest(page_size=-1), {"page_size"}),
        (dispatch_pb2.ListQueuedDeliveriesRequest(page_size=-1), {"page_size"}),
        (
            orders_pb2.ListDeliveriesRequest(
                statuses=[UNSPECIFIED, delivery_pb2.DELIVERY_STATUS_PENDING, UNKNOWN]
            ),
            {"statuses[0]", "statuses[2]"},
        ),
        (orders_pb2.ListDeliveriesRequest(page_token="tok\x00en"), {"page_token"}),
        (session_pb2.GoOnline(vehicle_type=courier_pb2.VEHICLE_TYPE_UNSPECIFIED), {"vehicle_type"}),
        (session_pb2.LocationUpdate(), {"locations"}),
    ],
)
def test_bounds_and_unspecified_enums_are_the_contracts(
    request_message: Any, expected: set[str]
) -> None:
    error = validation.REQUESTS.error(request_message)
    assert error is not None
    assert {v.field for v in error.violations} == expected


def test_pages_of_any_size_from_zero_up_are_accepted() -> None:
    for size in (0, 1, 100, 500, 2**31 - 1):
        assert validation.REQUESTS.error(orders_pb2.ListDeliveriesRequest(page_size=size)) is None


def test_an_unspecified_or_unknown_enum_value_names_the_values_a_client_may_send() -> None:
    error = validation.REQUESTS.error(
        orders_pb2.ListDeliveriesRequest(statuses=[UNSPECIFIED, UNKNOWN])
    )
    assert error is not None
    assert {v.description for v in error.violations} == {
        "must be one of DELIVERY_STATUS_PENDING, DELIVERY_STATUS_ASSIGNED, "
        "DELIVERY_STATUS_PICKED_UP, DELIVERY_STATUS_DELIVERED, DELIVERY_STATUS_CANCELLED"
    }


def test_bytes_handlers_are_left_alone() -> None:
    assert validation.REQUESTS.error(b"\x00 raw bytes") is None


# Undecodable requests: CreateQuoteRequest.terms (field 1) again, holding a parcel (field 3)
# whose description (field 3) is not UTF-8; and a length prefix that runs past the end.
BAD_UTF8 = (
    pricing_pb2.CreateQuoteRequest(terms=TERMS).SerializeToString()
    + b"\x0a\x06\x1a\x04\x1a\x02\xff\xfe"
)
TRUNCATED = b"\x0a\x40\x0a\x02"


@pytest.mark.parametrize("payload", [BAD_UTF8, TRUNCATED], ids=["bad-utf8", "truncated"])
async def test_bytes_that_do_not_decode_are_invalid_argument_not_unknown(
    channel_and_recorder: tuple[grpc.aio.Channel, Recorder], payload: bytes
) -> None:
    channel, recorder = channel_and_recorder
    raw = channel.unary_unary("/lastmile.pricing.v1.PricingService/CreateQuote", None, None)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await raw(payload)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "could not be decoded" in (raised.value.details() or "")
    assert "CreateQuote" not in recorder.seen


async def test_undecodable_bytes_end_even_a_per_message_stream(
    channel_and_recorder: tuple[grpc.aio.Channel, Recorder],
) -> None:
    channel, recorder = channel_and_recorder
    good = orders_pb2.ImportDeliveriesRequest(delivery=delivery(), idempotency_key="ok")
    raw = channel.stream_unary("/lastmile.orders.v1.OrdersService/ImportDeliveries", None, None)

    async def items() -> AsyncIterator[bytes]:
        yield good.SerializeToString()
        yield TRUNCATED

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await raw(items())
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "could not be decoded" in (raised.value.details() or "")
    assert recorder.seen["ImportDeliveries"] == [good]
