"""The persisted queue's SQL: the group commit's writes and the takeover's read."""

from __future__ import annotations

import json
from dataclasses import replace

import asyncpg

from lastmile.orders.v1 import delivery_pb2
from services.dispatch.adapters.delivery_records import terms_of
from services.dispatch.domain.deliveries import QueueState
from services.dispatch.domain.queue_rows import QueueRow, StoredDelivery
from services.dispatch.service_layer.ports import QueueWrite

_UPDATE = """
UPDATE pending_deliveries
   SET state = $2, offer_count = $3, declined_by = $4, offer_id = $5, courier_id = $6,
       fleet_replica_id = $7, offer_created_at = $8, offer_expires_at = $9
 WHERE delivery_id = $1"""
_LOAD = """
SELECT delivery, enqueued_at, delivery_id, state, offer_count, declined_by, offer_id,
       courier_id, fleet_replica_id, offer_created_at, offer_expires_at, trace_context
  FROM pending_deliveries
 ORDER BY enqueued_at, delivery_id"""


async def write(connection: asyncpg.Connection, change: QueueWrite) -> None:
    """Only updates and deletes: a row deleted by a cancel is never brought back."""
    async with connection.transaction():
        if change.updated:
            await connection.executemany(_UPDATE, [_values(row) for row in change.updated])
        if change.removed:
            await connection.execute(
                "DELETE FROM pending_deliveries WHERE delivery_id = ANY($1::text[])",
                list(change.removed),
            )


async def load(connection: asyncpg.Connection) -> list[StoredDelivery]:
    stored = []
    for record in await connection.fetch(_LOAD):
        delivery = delivery_pb2.Delivery.FromString(bytes(record["delivery"]))
        row = QueueRow(
            delivery_id=record["delivery_id"],
            state=QueueState(record["state"]),
            offer_count=record["offer_count"],
            declined_by=frozenset(record["declined_by"]),
            offer_id=record["offer_id"],
            courier_id=record["courier_id"],
            fleet_replica_id=record["fleet_replica_id"],
            offer_created_at=record["offer_created_at"],
            offer_expires_at=record["offer_expires_at"],
        )
        # The trace the delivery was queued in: offers made after a fail-over join it too.
        terms = replace(terms_of(delivery), trace_context=json.loads(record["trace_context"]))
        stored.append(StoredDelivery(terms, record["enqueued_at"], row))
    return stored


def _values(row: QueueRow) -> tuple[object, ...]:
    return (
        row.delivery_id, row.state.value, row.offer_count, sorted(row.declined_by),
        row.offer_id, row.courier_id, row.fleet_replica_id, row.offer_created_at,
        row.offer_expires_at,
    )  # fmt: skip
