"""The consumer's handler: one delivery event, inside its inbox transaction (in a
savepoint of the batch's transaction)."""

from __future__ import annotations

from dataclasses import replace

import asyncpg

from lastmile.events.v1 import envelope_pb2
from services.dispatch.adapters.delivery_events import read_delivery_event
from services.dispatch.adapters.postgres_intake import intake_for
from services.dispatch.domain.deliveries import DeliveryTerms
from services.dispatch.domain.fleet_reports import DeliveryAssignment, DeliveryCancellation
from services.dispatch.service_layer.intake import DeliveryIntake
from services.runtime import trace_context


class DeliveryEventHandler:
    """Translates the envelope and hands it to the intake with the transaction. A new
    delivery keeps the trace it is handled in (the consumer's span, which continues the
    envelope's), so that the offers made for it, whenever that is, join the same trace."""

    def __init__(self, intake: DeliveryIntake) -> None:
        self._intake = intake

    async def __call__(
        self, connection: asyncpg.Connection, envelope: envelope_pb2.EventEnvelope
    ) -> None:
        with intake_for(connection) as tx:
            match read_delivery_event(envelope):
                case DeliveryTerms() as terms:
                    traced = replace(terms, trace_context=trace_context.current())
                    await self._intake.created(tx, traced)
                case DeliveryCancellation() as cancellation:
                    await self._intake.cancelled(tx, cancellation)
                case DeliveryAssignment() as assignment:
                    await self._intake.assigned(tx, assignment)
