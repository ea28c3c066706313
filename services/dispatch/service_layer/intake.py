"""orders' delivery events, applied inside the consumer's inbox transaction: the queue
in PostgreSQL changes with the inbox, and the matcher in memory only after commit."""

from __future__ import annotations

from collections.abc import Callable

from services.dispatch.domain.deliveries import DeliveryTerms
from services.dispatch.domain.fleet_reports import DeliveryAssignment, DeliveryCancellation
from services.dispatch.service_layer.ports import Clock, IntakeTransaction
from services.dispatch.service_layer.region_shell import RegionShell


class DeliveryIntake:
    """created -> queued; cancelled -> dropped or withdrawn; assigned -> settled.

    On a standby `current_shell()` raises, the transaction rolls back and the event is
    redelivered later, to whoever leads then."""

    def __init__(self, current_shell: Callable[[], RegionShell], clock: Clock) -> None:
        self._current_shell = current_shell
        self._clock = clock

    async def created(self, tx: IntakeTransaction, terms: DeliveryTerms) -> None:
        shell = self._current_shell()
        enqueued_at = self._clock()
        if await tx.insert_pending(terms, enqueued_at):
            tx.after_commit(lambda: shell.delivery_created(terms, enqueued_at))

    async def cancelled(self, tx: IntakeTransaction, cancellation: DeliveryCancellation) -> None:
        shell = self._current_shell()
        await tx.delete_pending(cancellation.delivery_id)
        tx.after_commit(lambda: shell.delivery_cancelled(cancellation))

    async def assigned(self, tx: IntakeTransaction, assignment: DeliveryAssignment) -> None:
        shell = self._current_shell()
        await tx.delete_pending(assignment.delivery_id, unless_assigning_offer=assignment.offer_id)
        tx.after_commit(lambda: shell.delivery_assigned(assignment))
