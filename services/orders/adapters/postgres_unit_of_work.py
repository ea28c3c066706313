"""The unit of work over one pooled PostgreSQL connection: a transaction in which
deliveries, idempotency keys and the outbox change together."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from asyncpg.transaction import Transaction

from services.orders.adapters.event_envelopes import envelope_for, subject_for
from services.orders.adapters.postgres_repositories import (
    PostgresDeliveries,
    PostgresIdempotencyKeys,
)
from services.orders.domain.events import DeliveryEvent
from services.orders.service_layer.ports import UnitOfWork
from services.runtime.database import Database
from services.runtime.events import outbox


class PostgresUnitOfWork(UnitOfWork):
    """Holds a connection from `database`'s pool for the duration of one transaction."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self._database = database
        self._lease: PoolConnectionProxy[asyncpg.Record] | None = None
        self._connection: asyncpg.Connection | None = None
        self._transaction: Transaction | None = None

    async def _begin(self) -> None:
        self._lease = await self._database.pool.acquire()
        # The proxy forwards every Connection method.
        connection = cast(asyncpg.Connection, self._lease)
        self._connection = connection
        try:
            transaction = connection.transaction()
            await transaction.start()
        except BaseException:
            await self._release()
            raise
        self._transaction = transaction
        self.deliveries = PostgresDeliveries(connection)
        self.idempotency_keys = PostgresIdempotencyKeys(connection)

    async def _commit(self, events: Sequence[DeliveryEvent]) -> None:
        connection, transaction = self._connection, self._transaction
        if connection is None or transaction is None:
            raise RuntimeError("commit outside `async with` of the unit of work")
        for event in events:
            await outbox.append(connection, envelope_for(event), subject=subject_for(event))
        # Finished either way: after a failed COMMIT the pool's reset rolls back.
        self._transaction = None
        try:
            await transaction.commit()
        finally:
            await self._release()

    async def _rollback(self) -> None:
        transaction, self._transaction = self._transaction, None
        try:
            if transaction is not None:
                await transaction.rollback()
        finally:
            await self._release()

    async def _release(self) -> None:
        lease, self._lease, self._connection = self._lease, None, None
        if lease is not None:
            await self._database.pool.release(lease)
