"""The unit of work on PostgreSQL: one pooled connection, one transaction."""

from __future__ import annotations

from types import TracebackType
from typing import Self, cast

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from asyncpg.transaction import Transaction

from services.identity.adapters.postgres_accounts import PostgresAccountRepository
from services.identity.adapters.postgres_signing_keys import PostgresSigningKeyRepository
from services.identity.service_layer.unit_of_work import UnitOfWork
from services.runtime.database import Database


class PostgresUnitOfWork(UnitOfWork):
    """Repositories bound to one transaction; rolled back unless committed."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._acquired: PoolConnectionProxy | None = None
        self._transaction: Transaction | None = None

    async def __aenter__(self) -> Self:
        self._acquired = await self._database.pool.acquire()
        # The pool's proxy forwards every Connection method.
        connection = cast(asyncpg.Connection, self._acquired)
        self._transaction = connection.transaction()
        await self._transaction.start()
        self.accounts = PostgresAccountRepository(connection)
        self.signing_keys = PostgresSigningKeyRepository(connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await self.rollback()
        finally:
            if self._acquired is not None:
                await self._database.pool.release(self._acquired)
                self._acquired = None

    async def commit(self) -> None:
        if self._transaction is not None:
            await self._transaction.commit()
            self._transaction = None

    async def rollback(self) -> None:
        if self._transaction is not None:
            transaction, self._transaction = self._transaction, None
            await transaction.rollback()
