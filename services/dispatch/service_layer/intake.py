"""orders' delivery events, applied inside the consumer's inbox transaction: the queue
in PostgreSQL changes with the inbox, and the matcher in memory only after commit."""

from __future__ import annotations

from collections.abc import Callable

from services.dispatch.domain.deliveries import DeliveryTerms
from services.dispatch.domain.fleet_reports import DeliveryAssignment, DeliveryCancellation
from services.dispatch.service_layer.ports import Clock, IntakeTransaction
from services.dispatch.service_layer.term import Term


class DeliveryIntake:
    """created -> queued; cancelled -> dropped or withdrawn; assigned -> settled.

    On a standby `current_term()` raises, the transaction rolls back and the event is
    redelivered later, to whoever leads then."""

    def __init__(self, current_term: Callable[[], Term], clock: Clock) -> None:
        self._current_term = current_term
        self._clock = clock

    async def created(self, tx: IntakeTransaction, terms: DeliveryTerms) -> None:
        term = self._current_term()
        enqueued_at = self._clock()
        if await tx.insert_pending(terms, enqueued_at):
            tx.after_commit(lambda: term.enqueue(terms, enqueued_at))

    async def cancelled(self, tx: IntakeTransaction, cancellation: DeliveryCancellation) -> None:
        term = self._current_term()
        await tx.delete_pending(cancellation.delivery_id)
        tx.after_commit(lambda: term.cancel(cancellation))

    async def assigned(self, tx: IntakeTransaction, assignment: DeliveryAssignment) -> None:
        term = self._current_term()
        await tx.delete_pending(assignment.delivery_id, unless_assigning_offer=assignment.offer_id)
        tx.after_commit(lambda: term.assigned(assignment))
