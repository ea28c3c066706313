"""The unit of work over one pooled PostgreSQL connection: deliveries, idempotency keys and
the outbox change together, in one transaction or, where the whole change is a single
write, in one statement (which PostgreSQL commits as a whole just the same)."""

from __future__ import annotations

from collections.abc import Sequence

from services.orders.adapters import postgres_repositories as rows
from services.orders.adapters.delivery_rows import row_values
from services.orders.adapters.event_envelopes import envelope_for, subject_for
from services.orders.adapters.postgres_lease import Lease
from services.orders.adapters.postgres_repositories import (
    PostgresDeliveries,
    PostgresIdempotencyKeys,
)
from services.orders.domain.delivery import Delivery
from services.orders.domain.events import DeliveryEvent
from services.orders.service_layer.ports import UnitOfWork
from services.runtime.database import Database
from services.runtime.events import outbox

_ADD = outbox.with_events(
    f"written AS ({rows.INSERT} RETURNING 1)",
    guard="written",
    first_parameter=rows.INSERT.count("$") + 1,
)
_REPLACE = outbox.with_events(
    f"written AS ({rows.UPDATE} RETURNING 1)",
    guard="written",
    first_parameter=rows.UPDATE.count("$") + 1,
)


class PostgresUnitOfWork(UnitOfWork):
    """Holds a connection from `database`'s pool for the duration of one unit of work. Reads
    need no transaction (each would see its own snapshot under READ COMMITTED anyway, and
    every change is checked against the version it read); the first separate write begins
    one, and a change that is one write with its events is one statement."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self._database = database
        self._lease: Lease | None = None

    async def _begin(self) -> None:
        lease = Lease(await self._database.acquire())
        self._lease = lease
        self.deliveries = PostgresDeliveries(lease)
        self.idempotency_keys = PostgresIdempotencyKeys(lease)

    async def _commit(self, events: Sequence[DeliveryEvent]) -> None:
        lease = self._leased()
        try:
            # With nothing written before, the events alone are one statement.
            await outbox.append_all(
                lease.connection,
                [envelope_for(e) for e in events],
                [subject_for(e) for e in events],
            )
            await self._finish(lease)
        finally:
            await self._release()

    async def _add_and_commit(self, delivery: Delivery, events: Sequence[DeliveryEvent]) -> None:
        await self._write_and_commit(_ADD, row_values(delivery), events)

    async def _replace_and_commit(
        self, delivery: Delivery, expected_version: int, events: Sequence[DeliveryEvent]
    ) -> bool:
        return await self._write_and_commit(
            _REPLACE, rows.replacement_values(delivery, expected_version), events
        )

    async def _write_and_commit(
        self, statement: str, values: Sequence[object], events: Sequence[DeliveryEvent]
    ) -> bool:
        """The write and its events in one statement; inside the transaction if an earlier
        write began one (then committed with it). False if the write matched no row: then
        nothing is committed, and leaving the unit of work rolls back what came before."""
        lease = self._leased()
        envelopes = [envelope_for(event) for event in events]
        subjects = [subject_for(event) for event in events]
        written = await lease.connection.fetchrow(
            statement, *values, *outbox.event_parameters(envelopes, subjects)
        )
        if written is None:
            return False
        try:
            if lease.transaction is not None:
                await self._finish(lease)
        finally:
            await self._release()
        return True

    async def _finish(self, lease: Lease) -> None:
        transaction, lease.transaction = lease.transaction, None
        if transaction is not None:
            # Finished either way: after a failed COMMIT the pool's reset rolls back.
            await transaction.commit()

    async def _rollback(self) -> None:
        lease = self._lease
        try:
            if lease is not None and lease.transaction is not None:
                transaction, lease.transaction = lease.transaction, None
                await transaction.rollback()
        finally:
            await self._release()

    def _leased(self) -> Lease:
        if self._lease is None:
            raise RuntimeError("commit outside `async with` of the unit of work")
        return self._lease

    async def _release(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            await self._database.release(lease.connection)
