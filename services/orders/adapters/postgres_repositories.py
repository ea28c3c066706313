"""PostgreSQL implementations of the delivery repository and the idempotency keys,
working on the connection of one unit of work: reads as they come, writes inside its
transaction (see postgres_lease.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.orders.adapters.delivery_rows import COLUMNS, delivery_from, row_values
from services.orders.adapters.postgres_lease import Lease
from services.orders.domain.delivery import Delivery, DeliveryStatus
from services.orders.domain.idempotency import IdempotencyRecord
from services.orders.service_layer.access import Audience
from services.orders.service_layer.ports import DeliveryRepository, IdempotencyKeys
from services.runtime.page_tokens import Cursor

_PLACEHOLDERS = ", ".join(f"${n}" for n in range(1, COLUMNS.count(",") + 2))
INSERT = f"INSERT INTO deliveries ({COLUMNS}) VALUES ({_PLACEHOLDERS})"
# $1 the id, $2 the expected version, then `replacement_values`.
UPDATE = (
    "UPDATE deliveries SET status = $3, courier_id = $4, offer_id = $5, updated_at = $6,"
    " assigned_at = $7, picked_up_at = $8, delivered_at = $9, cancelled_at = $10,"
    " cancel_reason = $11, version = $12 WHERE id = $1 AND version = $2"
)
_SELECT = f"SELECT {COLUMNS} FROM deliveries WHERE id = $1"


def replacement_values(delivery: Delivery, expected_version: int) -> tuple[Any, ...]:
    """The parameters of UPDATE."""
    assignment = delivery.assignment
    return (
        uuid.UUID(delivery.id),
        expected_version,
        delivery.status.value,
        assignment.courier_id if assignment else None,
        assignment.offer_id if assignment else None,
        delivery.updated_at,
        delivery.assigned_at,
        delivery.picked_up_at,
        delivery.delivered_at,
        delivery.cancelled_at,
        delivery.cancel_reason,
        delivery.version,
    )


class PostgresDeliveries(DeliveryRepository):
    """The deliveries table."""

    def __init__(self, lease: Lease) -> None:
        self._lease = lease

    async def add(self, delivery: Delivery) -> None:
        connection = await self._lease.writing()
        await connection.execute(INSERT, *row_values(delivery))

    async def get(self, delivery_id: str) -> Delivery | None:
        try:
            key = uuid.UUID(delivery_id)
        except ValueError:
            return None
        row = await self._lease.connection.fetchrow(_SELECT, key)
        return delivery_from(row) if row is not None else None

    async def replace(self, delivery: Delivery, *, expected_version: int) -> bool:
        connection = await self._lease.writing()
        outcome = await connection.execute(UPDATE, *replacement_values(delivery, expected_version))
        return bool(outcome == "UPDATE 1")

    async def page(
        self,
        audience: Audience,
        statuses: frozenset[DeliveryStatus],
        after: Cursor | None,
        limit: int,
    ) -> list[Delivery]:
        conditions, arguments = ["true"], list[Any]()

        def argument(value: Any) -> str:
            arguments.append(value)
            return f"${len(arguments)}"

        if audience.customer_id is not None:
            conditions.append(f"customer_id = {argument(audience.customer_id)}")
        if audience.merchant_id is not None:
            conditions.append(f"merchant_id = {argument(audience.merchant_id)}")
        if statuses:
            conditions.append(f"status = ANY({argument(sorted(statuses))}::text[])")
        if after is not None:
            created_at, delivery_id = argument(after.created_at), argument(after.item_id)
            conditions.append(f"(created_at, id) < ({created_at}, {delivery_id}::uuid)")
        rows = await self._lease.connection.fetch(
            f"SELECT {COLUMNS} FROM deliveries WHERE {' AND '.join(conditions)}"
            f" ORDER BY created_at DESC, id DESC LIMIT {argument(limit)}",
            *arguments,
        )
        return [delivery_from(row) for row in rows]


class PostgresIdempotencyKeys(IdempotencyKeys):
    """The idempotency_keys table: one row per (owner, key), unique."""

    def __init__(self, lease: Lease) -> None:
        self._lease = lease

    async def find(self, owner_id: str, key: str, *, since: datetime) -> IdempotencyRecord | None:
        row = await self._lease.connection.fetchrow(
            "SELECT request_fingerprint, delivery_id, created_at FROM idempotency_keys"
            " WHERE owner_id = $1 AND key = $2 AND created_at >= $3",
            owner_id,
            key,
            since,
        )
        if row is None:
            return None
        return IdempotencyRecord(
            owner_id, key, row["request_fingerprint"], str(row["delivery_id"]), row["created_at"]
        )

    async def claim(
        self, record: IdempotencyRecord, *, since: datetime
    ) -> IdempotencyRecord | None:
        # On a live conflict this waits for the holder's transaction; a key older than
        # `since` is taken over instead.
        connection = await self._lease.writing()
        claimed = await connection.fetchval(
            "INSERT INTO idempotency_keys"
            " (owner_id, key, request_fingerprint, delivery_id, created_at)"
            " VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (owner_id, key) DO UPDATE SET"
            " request_fingerprint = EXCLUDED.request_fingerprint,"
            " delivery_id = EXCLUDED.delivery_id, created_at = EXCLUDED.created_at"
            " WHERE idempotency_keys.created_at < $6"
            " RETURNING true",
            record.owner_id,
            record.key,
            record.request_fingerprint,
            uuid.UUID(record.delivery_id),
            record.created_at,
            since,
        )
        if claimed:
            return None
        return await self.find(record.owner_id, record.key, since=since)
