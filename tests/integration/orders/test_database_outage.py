"""orders while its PostgreSQL is stopped and started again: calls get UNAVAILABLE with
RetryInfo (never INTERNAL), health turns NOT_SERVING (named and overall) and back to
SERVING by itself, and the outage is logged once.

The PostgreSQL here is this module's own, so stopping it disturbs no other test."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lastmile.orders.v1 import orders_pb2, orders_pb2_grpc
from services.devstack import LocalNats, LocalPostgres, free_port
from services.runtime.readiness import LIVENESS
from services.runtime.status import rich_status
from tests.integration.stack import ServedOrders, orders_with_pricing
from tests.orders_examples import account, create_request
from tests.status_details import error_info

ORDERS = orders_pb2.DESCRIPTOR.services_by_name["OrdersService"].full_name
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# A bound on how long health may take to follow, so a broken monitor fails the test
# instead of hanging it; not a figure the test asserts.
FOLLOW_LIMIT_SECONDS = 30


@pytest.fixture
async def own_postgres(tmp_path: Path) -> AsyncIterator[LocalPostgres]:
    server = LocalPostgres(tmp_path / "postgres", free_port())
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def orders(own_postgres: LocalPostgres, nats: LocalNats) -> AsyncIterator[ServedOrders]:
    async with orders_with_pricing(own_postgres, nats.url) as served:
        yield served


class Records(logging.Handler):
    """Every record the runtime's loggers emit while installed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def of(self, logger: str, level: int) -> list[str]:
        return [r.getMessage() for r in self.records if r.name == logger and r.levelno == level]

    def at_least(self, level: int) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno >= level]


@pytest.fixture
def logged() -> Iterator[Records]:
    handler, runtime = Records(), logging.getLogger("lastmile")
    previous = runtime.level
    runtime.addHandler(handler)
    runtime.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        runtime.removeHandler(handler)
        runtime.setLevel(previous)


async def health_reaches(channel: grpc.aio.Channel, service: str, wanted: int) -> None:
    """Follow `service`'s health (Watch) until it reports `wanted`."""
    watch = health_pb2_grpc.HealthStub(channel).Watch(
        health_pb2.HealthCheckRequest(service=service), timeout=FOLLOW_LIMIT_SECONDS
    )
    try:
        async for reply in watch:
            if reply.status == wanted:
                return
    finally:
        watch.cancel()


async def health_of(channel: grpc.aio.Channel, service: str) -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=5
    )
    return int(reply.status)


async def test_a_stopped_database_gives_unavailable_and_not_serving_until_it_is_back(
    orders: ServedOrders, own_postgres: LocalPostgres, logged: Records
) -> None:
    customer = account("customer")
    async with grpc.aio.insecure_channel(orders.address) as channel:
        stub = orders_pb2_grpc.OrdersServiceStub(channel)
        before = await stub.CreateDelivery(
            create_request("before-outage"), metadata=customer.metadata, timeout=10
        )

        async with own_postgres.stopped():
            refusals = []
            for call in (
                stub.CreateDelivery(
                    create_request("during-outage"), metadata=customer.metadata, timeout=10
                ),
                stub.GetDelivery(
                    orders_pb2.GetDeliveryRequest(delivery_id=before.delivery.delivery_id),
                    metadata=customer.metadata,
                    timeout=10,
                ),
                stub.ListDeliveries(
                    orders_pb2.ListDeliveriesRequest(page_size=5),
                    metadata=customer.metadata,
                    timeout=10,
                ),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await call
                refusals.append(refused.value)
            await health_reaches(channel, ORDERS, NOT_SERVING)
            await health_reaches(channel, "", NOT_SERVING)
            liveness_during_outage = await health_of(channel, LIVENESS)
            # More calls in the same outage add no log line of their own.
            for _ in range(5):
                with pytest.raises(grpc.aio.AioRpcError):
                    await stub.ListDeliveries(
                        orders_pb2.ListDeliveriesRequest(page_size=5),
                        metadata=customer.metadata,
                        timeout=10,
                    )

        await health_reaches(channel, ORDERS, SERVING)
        await health_reaches(channel, "", SERVING)
        after = await stub.CreateDelivery(
            create_request("after-outage"), metadata=customer.metadata, timeout=10
        )
        listed = await stub.ListDeliveries(
            orders_pb2.ListDeliveriesRequest(page_size=5), metadata=customer.metadata, timeout=10
        )

    assert [r.code() for r in refusals] == [grpc.StatusCode.UNAVAILABLE] * 3
    for refusal in refusals:
        details = rich_status(refusal)
        assert details is not None
        retry = error_details_pb2.RetryInfo()
        assert any(d.Unpack(retry) for d in details.details if d.Is(retry.DESCRIPTOR))
        assert retry.retry_delay.ToTimedelta().total_seconds() > 0
        assert error_info(refusal).reason == "UPSTREAM_UNAVAILABLE"
    assert liveness_during_outage == SERVING
    assert {d.delivery_id for d in listed.deliveries} >= {
        before.delivery.delivery_id,
        after.delivery.delivery_id,
    }
    assert len(logged.of("lastmile.dependencies", logging.WARNING)) == 1
    assert logged.of("lastmile.dependencies", logging.INFO) == ["the database is reachable again"]
    assert [r.getMessage() for r in logged.at_least(logging.ERROR)] == []
    assert not [r for r in logged.at_least(logging.WARNING) if r.exc_info]
