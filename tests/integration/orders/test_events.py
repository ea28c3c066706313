"""delivery events through the outbox: written with each change, and relayed to NATS
JetStream so that a consumer gets every one exactly once, even across a NATS outage."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import nats as nats_client
import pytest

from lastmile.events.v1 import delivery_events_pb2, envelope_pb2
from lastmile.orders.v1 import orders_internal_pb2, orders_pb2
from services.devstack import LocalNats, LocalPostgres
from services.runtime.database import Database, migrate
from services.runtime.events import streams
from services.runtime.events.consumer import EventConsumer, Subscription
from tests.integration.orders.conftest import OrdersStack
from tests.integration.test_events import eventually
from tests.orders_examples import account, create_request

pytestmark = pytest.mark.slow
CONSUMER_MIGRATIONS = Path(__file__).parents[1] / "events_migrations"
CREATED = "lastmile.delivery.created"
# Delivery events are published on `<type>.<region>`: this is every region's.
CREATED_ANYWHERE = f"{CREATED}.*"


@pytest.fixture
async def consumer_database(postgres: LocalPostgres) -> AsyncIterator[Database]:
    """A consumer's own database: its inbox and a table of what it handled."""
    name = f"consumer_{uuid.uuid4().hex[:8]}"
    await postgres.ensure_database(name)
    await migrate(postgres.dsn(name), CONSUMER_MIGRATIONS)
    database = Database(postgres.dsn(name))
    await database.connect()
    yield database
    await database.close()


async def record(connection: asyncpg.Connection, envelope: envelope_pb2.EventEnvelope) -> None:
    await connection.execute(
        "INSERT INTO handled (event_id, subject, sequence) VALUES ($1, $2, $3)",
        uuid.UUID(envelope.event_id),
        envelope.subject,
        envelope.sequence,
    )


async def test_each_state_change_writes_its_event_with_the_version_as_sequence(
    stack: OrdersStack,
) -> None:
    customer = account("customer")
    created = (
        await stack.orders.CreateDelivery(create_request(), metadata=customer.metadata)
    ).delivery
    steps = {"delivery_id": created.delivery_id, "courier_id": "courier-1", "offer_id": "offer-1"}
    await stack.internal.AssignCourier(orders_internal_pb2.AssignCourierRequest(**steps))
    await stack.orders.CancelDelivery(
        orders_pb2.CancelDeliveryRequest(delivery_id=created.delivery_id, reason="too late"),
        metadata=customer.metadata,
    )
    envelopes = await stack.events_of(created.delivery_id)
    assert [(e.type, e.source, e.sequence) for e in envelopes] == [
        ("lastmile.delivery.created", "orders", 1),
        ("lastmile.delivery.assigned", "orders", 2),
        ("lastmile.delivery.cancelled", "orders", 3),
    ]
    payload = delivery_events_pb2.DeliveryCreated()
    assert envelopes[0].payload.Unpack(payload)
    assert payload.delivery == created
    cancelled = delivery_events_pb2.DeliveryCancelled()
    assert envelopes[2].payload.Unpack(cancelled)
    assert (cancelled.courier_id, cancelled.offer_id, cancelled.reason) == (
        "courier-1",
        "offer-1",
        "too late",
    )
    assert cancelled.previous_status == 2  # DELIVERY_STATUS_ASSIGNED


async def test_each_event_is_published_on_its_kind_and_its_pickups_region_with_the_region(
    stack: OrdersStack, nats: LocalNats
) -> None:
    customer = account("customer")
    paris = create_request()
    paris.delivery.pickup.point.latitude, paris.delivery.pickup.point.longitude = 48.8566, 2.3522
    paris.delivery.dropoff.point.latitude, paris.delivery.dropoff.point.longitude = 48.87, 2.36
    created = (await stack.orders.CreateDelivery(paris, metadata=customer.metadata)).delivery
    await stack.internal.AssignCourier(
        orders_internal_pb2.AssignCourierRequest(
            delivery_id=created.delivery_id, courier_id="courier-1", offer_id="offer-1"
        )
    )
    connection = await nats_client.connect(nats.url)
    try:
        js = connection.jetstream()
        await streams.ensure_stream(js, streams.DELIVERY_EVENTS)
        subscription = await js.subscribe("lastmile.delivery.*.paris", ordered_consumer=True)
        published: list[tuple[str, str]] = []
        while len(published) < 2:
            message = await subscription.next_msg(timeout=30)
            envelope = envelope_pb2.EventEnvelope.FromString(message.data)
            if envelope.subject == created.delivery_id:
                kind = {
                    "lastmile.delivery.created": delivery_events_pb2.DeliveryCreated,
                    "lastmile.delivery.assigned": delivery_events_pb2.DeliveryAssigned,
                }[envelope.type]()
                assert envelope.payload.Unpack(kind)
                published.append((message.subject, kind.region))
    finally:
        await connection.close()
    assert published == [
        ("lastmile.delivery.created.paris", "paris"),
        ("lastmile.delivery.assigned.paris", "paris"),
    ]


async def test_deliveries_created_while_nats_is_down_all_reach_a_consumer_exactly_once(
    stack: OrdersStack, nats: LocalNats, consumer_database: Database
) -> None:
    # Other modules' events stay out of this consumer's way.
    connection = await nats_client.connect(nats.url)
    await streams.ensure_stream(connection.jetstream(), streams.DELIVERY_EVENTS)
    await connection.jetstream().purge_stream(
        streams.DELIVERY_EVENTS.name, subject=CREATED_ANYWHERE
    )
    await connection.close()
    customer = account("customer")
    # The relay must be connected before the outage: this test is about its reconnect,
    # not about a first connect racing the broker's shutdown.
    await stack.orders.CreateDelivery(create_request(), metadata=customer.metadata)

    async def relay_is_publishing() -> bool:
        return not await stack.outbox(unpublished=True)

    await eventually(relay_is_publishing, "the relay to publish the first event")
    async with nats.stopped():
        replies = [
            await stack.orders.CreateDelivery(create_request(), metadata=customer.metadata)
            for _ in range(50)
        ]
        ids = {reply.delivery.delivery_id for reply in replies}
        unpublished = [e for e in await stack.outbox(unpublished=True) if e.subject in ids]
        assert len(unpublished) == 50
    consumer = EventConsumer(
        consumer_database,
        nats.url,
        Subscription(durable=f"orders-test-{uuid.uuid4().hex[:8]}", subjects=(CREATED_ANYWHERE,)),
        record,
    )
    consumer.start()
    try:

        async def all_handled() -> bool:
            rows = await consumer_database.pool.fetch("SELECT subject FROM handled")
            return ids <= {r["subject"] for r in rows}

        await eventually(all_handled, "50 delivery.created events after the outage", 60)
        # Give a redelivery the chance to show itself before counting.
        await asyncio.sleep(0.5)
    finally:
        await consumer.stop()
    rows = await consumer_database.pool.fetch(
        "SELECT subject, sequence FROM handled WHERE subject = ANY($1::text[])", list(ids)
    )
    assert sorted(r["subject"] for r in rows) == sorted(ids)
    assert {r["sequence"] for r in rows} == {1}
