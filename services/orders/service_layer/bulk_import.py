"""Bulk import: items are created as they arrive, a bounded number at a time, each on
its own exactly as CreateDelivery would; the summary reports every item once."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterable
from dataclasses import dataclass, field

from services.orders.service_layer.commands import CreateDelivery, ImportItem
from services.orders.service_layer.creation import DeliveryCreation
from services.runtime import context
from services.runtime.context import Caller
from services.runtime.errors import DomainError, FieldViolation, InvalidArgument, ResourceExhausted

log = logging.getLogger("lastmile.orders")

MAX_IMPORT_ITEMS = 10_000


@dataclass(frozen=True, slots=True)
class ImportedItem:
    """An item that resulted in a delivery (new, or `replayed` from an earlier import)."""

    index: int
    delivery_id: str
    replayed: bool


@dataclass(frozen=True, slots=True)
class FailedItem:
    """An item that was not created, and why."""

    index: int
    idempotency_key: str
    error: DomainError


@dataclass
class ImportSummary:
    """Every item of one import, either created or failed, in stream order."""

    item_count: int = 0
    created: list[ImportedItem] = field(default_factory=list)
    failed: list[FailedItem] = field(default_factory=list)


@dataclass(frozen=True)
class DeliveryImport:
    """ImportDeliveries: `concurrency` items are in flight at most, so reading the stream
    pauses (and flow control holds the client back) while they are."""

    creation: DeliveryCreation
    concurrency: int = 16
    max_items: int = MAX_IMPORT_ITEMS

    async def import_deliveries(
        self, caller: Caller, items: AsyncIterable[ImportItem]
    ) -> ImportSummary:
        summary = ImportSummary()
        # 16-byte digests rather than the keys (up to 128 characters each).
        first_use: dict[bytes, int] = {}
        slots = asyncio.Semaphore(self.concurrency)
        try:
            async with asyncio.TaskGroup() as in_flight:
                async for item in items:
                    index = summary.item_count
                    summary.item_count += 1
                    admitted = self._admit(index, item, first_use)
                    if isinstance(admitted, DomainError):
                        summary.failed.append(FailedItem(index, item.idempotency_key, admitted))
                        continue
                    await slots.acquire()
                    in_flight.create_task(
                        self._create(caller, index, item.idempotency_key, admitted, summary, slots)
                    )
        except BaseExceptionGroup as failed:
            # The TaskGroup wraps what the stream raised (a message that does not parse
            # ends the import with INVALID_ARGUMENT); unwrapped, it maps to its status.
            [first, *others] = failed.exceptions
            if not others and isinstance(first, DomainError):
                raise first from None
            raise
        summary.created.sort(key=lambda created: created.index)
        summary.failed.sort(key=lambda failed: failed.index)
        return summary

    def _admit(
        self, index: int, item: ImportItem, first_use: dict[bytes, int]
    ) -> CreateDelivery | DomainError:
        if index >= self.max_items:
            return ResourceExhausted(
                f"an import carries at most {self.max_items} items; "
                "send the rest in another import",
            )
        if isinstance(item.command, InvalidArgument):
            return item.command
        digest = hashlib.sha256(item.idempotency_key.encode()).digest()[:16]
        earlier = first_use.setdefault(digest, index)
        if earlier != index:
            return InvalidArgument(
                [FieldViolation("idempotency_key", f"repeats the key of item {earlier}")]
            )
        return item.command

    async def _create(
        self,
        caller: Caller,
        index: int,
        key: str,
        command: CreateDelivery,
        summary: ImportSummary,
        slots: asyncio.Semaphore,
    ) -> None:
        try:
            created = await self.creation.create(caller, command)
            summary.created.append(ImportedItem(index, created.delivery.id, created.replayed))
        except DomainError as error:
            summary.failed.append(FailedItem(index, key, error))
        except Exception:
            # One item's fault must not fail the others: it becomes that item's INTERNAL.
            log.exception("import item %d failed unexpectedly", index)
            request_id = context.request_id.get()
            summary.failed.append(
                FailedItem(
                    index, key, DomainError(f"internal error; quote request id {request_id}")
                )
            )
        finally:
            slots.release()
