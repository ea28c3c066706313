"""The pooled connection of one unit of work, and the transaction on it, begun only by the
first write that needs one: reads before it run on their own, as they would in a READ
COMMITTED transaction, and a change made in one statement needs none."""

from __future__ import annotations

import asyncpg
from asyncpg.transaction import Transaction


class Lease:
    """A connection held for one unit of work, with the transaction its writes open."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.transaction: Transaction | None = None

    async def writing(self) -> asyncpg.Connection:
        """The connection inside the unit of work's transaction (begun now if not yet)."""
        if self.transaction is None:
            transaction = self.connection.transaction()
            await transaction.start()
            self.transaction = transaction
        return self.connection
