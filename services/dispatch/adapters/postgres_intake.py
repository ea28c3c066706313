"""The inbox transaction's side of the queue: new deliveries inserted, cancelled ones
deleted, and effects on the matcher held back until the transaction commits.

The consumer handles a batch of events in one transaction, each event in a savepoint
that is rolled back alone if its handler raises. An event's effects are therefore kept
only once its handler has returned (`intake_for`), and all of the batch's run after the
one commit, in event order, each in the context (the trace) it was registered in."""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import datetime

import asyncpg

from services.dispatch.adapters.delivery_records import delivery_of
from services.dispatch.domain.deliveries import DeliveryTerms
from services.dispatch.service_layer.ports import IntakeTransaction
from services.runtime.database import Database

log = logging.getLogger("lastmile.dispatch.intake")
Effect = Callable[[], None]
_after_commit: ContextVar[list[tuple[contextvars.Context, Effect]] | None] = ContextVar(
    "dispatch_after_commit", default=None
)


class CommitHookDatabase(Database):
    """A Database whose transactions run registered effects once they have committed,
    so the matcher never acts on a queue change that was rolled back."""

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        effects: list[tuple[contextvars.Context, Effect]] = []
        token = _after_commit.set(effects)
        try:
            async with super().transaction() as connection:
                yield connection
        finally:
            _after_commit.reset(token)
        for context, effect in effects:
            try:
                context.run(effect)
            except Exception:
                log.exception("an effect after commit failed")


@contextmanager
def intake_for(connection: asyncpg.Connection) -> Iterator[PostgresIntake]:
    """The intake for one event: the effects it registers join the transaction's only
    if the block completes (a handler that raised had its savepoint rolled back)."""
    effects = _after_commit.get()
    if effects is None:
        raise RuntimeError("an intake needs a CommitHookDatabase transaction")
    tx = PostgresIntake(connection)
    yield tx
    effects.extend(tx.effects)


class PostgresIntake(IntakeTransaction):
    """The queue table, within the consumer's inbox transaction on `connection`."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection
        # This event's effects, each with the context it was registered in.
        self.effects: list[tuple[contextvars.Context, Effect]] = []

    async def insert_pending(self, terms: DeliveryTerms, enqueued_at: datetime) -> bool:
        inserted = await self._connection.fetchval(
            "INSERT INTO pending_deliveries (delivery_id, delivery, enqueued_at, trace_context)"
            " VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING RETURNING true",
            terms.delivery_id,
            delivery_of(terms).SerializeToString(),
            enqueued_at,
            json.dumps(dict(terms.trace_context)),
        )
        return bool(inserted)

    async def delete_pending(self, delivery_id: str, *, unless_assigning_offer: str = "") -> None:
        await self._connection.execute(
            "DELETE FROM pending_deliveries WHERE delivery_id = $1"
            " AND NOT (state = 'ASSIGNING' AND offer_id = $2)",
            delivery_id,
            unless_assigning_offer,
        )

    def after_commit(self, effect: Effect) -> None:
        self.effects.append((contextvars.copy_context(), effect))
