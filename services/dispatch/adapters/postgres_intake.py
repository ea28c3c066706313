"""The inbox transaction's side of the queue: new deliveries inserted, cancelled ones
deleted, and effects on the matcher held back until the transaction commits."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime

import asyncpg

from services.dispatch.adapters.delivery_records import delivery_of
from services.dispatch.domain.deliveries import DeliveryTerms
from services.dispatch.service_layer.ports import IntakeTransaction
from services.runtime.database import Database

log = logging.getLogger("lastmile.dispatch.intake")
_after_commit: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "dispatch_after_commit", default=None
)


class CommitHookDatabase(Database):
    """A Database whose transactions run registered effects once they have committed,
    so the matcher never acts on a queue change that was rolled back."""

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        effects: list[Callable[[], None]] = []
        token = _after_commit.set(effects)
        try:
            async with super().transaction() as connection:
                yield connection
        finally:
            _after_commit.reset(token)
        for effect in effects:
            try:
                effect()
            except Exception:
                log.exception("an effect after commit failed")


class PostgresIntake(IntakeTransaction):
    """The queue table, within the consumer's inbox transaction on `connection`."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def insert_pending(self, terms: DeliveryTerms, enqueued_at: datetime) -> bool:
        inserted = await self._connection.fetchval(
            "INSERT INTO pending_deliveries (delivery_id, delivery, enqueued_at)"
            " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING true",
            terms.delivery_id,
            delivery_of(terms).SerializeToString(),
            enqueued_at,
        )
        return bool(inserted)

    async def delete_pending(self, delivery_id: str, *, unless_assigning_offer: str = "") -> None:
        await self._connection.execute(
            "DELETE FROM pending_deliveries WHERE delivery_id = $1"
            " AND NOT (state = 'ASSIGNING' AND offer_id = $2)",
            delivery_id,
            unless_assigning_offer,
        )

    def after_commit(self, effect: Callable[[], None]) -> None:
        effects = _after_commit.get()
        if effects is None:
            raise RuntimeError("after_commit needs a CommitHookDatabase transaction")
        effects.append(effect)
