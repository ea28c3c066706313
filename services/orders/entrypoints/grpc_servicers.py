"""The public OrdersService and the mesh-only OrdersInternalService."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from lastmile.orders.v1 import (
    orders_internal_pb2,
    orders_internal_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
)
from services.orders.adapters.delivery_messages import delivery_message
from services.orders.entrypoints import requests
from services.orders.service_layer.access import CREATORS, READERS
from services.orders.service_layer.bulk_import import DeliveryImport, ImportSummary
from services.orders.service_layer.commands import (
    AssignCourier,
    ImportItem,
    MarkDelivered,
    MarkPickedUp,
)
from services.orders.service_layer.creation import DeliveryCreation
from services.orders.service_layer.queries import DeliveryQueries
from services.orders.service_layer.transitions import DeliveryTransitions
from services.runtime import validation
from services.runtime.auth import require_role
from services.runtime.grpc_types import ServicerContext
from services.runtime.status import to_rpc_status

IDEMPOTENCY_KEY_HEADER = "idempotency-key"  # what Envoy forwards from Idempotency-Key


class OrdersServicer(orders_pb2_grpc.OrdersServiceServicer):
    """Deliveries for customers, merchants and ops; the role is checked before anything."""

    def __init__(
        self,
        creation: DeliveryCreation,
        imports: DeliveryImport,
        queries: DeliveryQueries,
        transitions: DeliveryTransitions,
        *,
        error_domain: str,
    ) -> None:
        self._creation = creation
        self._imports = imports
        self._queries = queries
        self._transitions = transitions
        self._error_domain = error_domain

    async def CreateDelivery(
        self, request: orders_pb2.CreateDeliveryRequest, context: ServicerContext
    ) -> orders_pb2.CreateDeliveryResponse:
        caller = require_role(*CREATORS)
        command = requests.read_create(request, _idempotency_header(context))
        created = await self._creation.create(caller, command)
        return orders_pb2.CreateDeliveryResponse(delivery=delivery_message(created.delivery))

    async def GetDelivery(
        self, request: orders_pb2.GetDeliveryRequest, context: ServicerContext
    ) -> orders_pb2.GetDeliveryResponse:
        caller = require_role(*READERS)
        delivery = await self._queries.get(caller, request.delivery_id)
        return orders_pb2.GetDeliveryResponse(delivery=delivery_message(delivery))

    async def ListDeliveries(
        self, request: orders_pb2.ListDeliveriesRequest, context: ServicerContext
    ) -> orders_pb2.ListDeliveriesResponse:
        caller = require_role(*READERS)
        page = await self._queries.list(caller, requests.read_list(request))
        return orders_pb2.ListDeliveriesResponse(
            deliveries=[delivery_message(d) for d in page.deliveries],
            next_page_token=page.next_page_token,
        )

    async def CancelDelivery(
        self, request: orders_pb2.CancelDeliveryRequest, context: ServicerContext
    ) -> orders_pb2.CancelDeliveryResponse:
        caller = require_role(*READERS)
        delivery = await self._transitions.cancel(caller, requests.read_cancel(request))
        return orders_pb2.CancelDeliveryResponse(delivery=delivery_message(delivery))

    async def ImportDeliveries(
        self,
        request_iterator: AsyncIterable[
            orders_pb2.ImportDeliveriesRequest
            | validation.InvalidMessage[orders_pb2.ImportDeliveriesRequest]
        ],
        context: ServicerContext,
    ) -> orders_pb2.ImportDeliveriesResponse:
        caller = require_role(*CREATORS)
        summary = await self._imports.import_deliveries(caller, _import_items(request_iterator))
        return self._summary_message(summary)

    def _summary_message(self, summary: ImportSummary) -> orders_pb2.ImportDeliveriesResponse:
        return orders_pb2.ImportDeliveriesResponse(
            item_count=summary.item_count,
            created=[
                orders_pb2.ImportedDelivery(
                    index=item.index, delivery_id=item.delivery_id, replayed=item.replayed
                )
                for item in summary.created
            ],
            errors=[
                orders_pb2.ImportError(
                    index=item.index,
                    idempotency_key=item.idempotency_key,
                    status=to_rpc_status(item.error, domain=self._error_domain),
                )
                for item in summary.failed
            ],
        )


class OrdersInternalServicer(orders_internal_pb2_grpc.OrdersInternalServiceServicer):
    """Courier-driven transitions for dispatch and fleet, reachable only inside the mesh."""

    def __init__(self, transitions: DeliveryTransitions) -> None:
        self._transitions = transitions

    async def AssignCourier(
        self, request: orders_internal_pb2.AssignCourierRequest, context: ServicerContext
    ) -> orders_internal_pb2.AssignCourierResponse:
        command = requests.read_courier_command(AssignCourier, request)
        delivery = await self._transitions.assign_courier(command)
        return orders_internal_pb2.AssignCourierResponse(delivery=delivery_message(delivery))

    async def MarkPickedUp(
        self, request: orders_internal_pb2.MarkPickedUpRequest, context: ServicerContext
    ) -> orders_internal_pb2.MarkPickedUpResponse:
        command = requests.read_courier_command(MarkPickedUp, request)
        delivery = await self._transitions.mark_picked_up(command)
        return orders_internal_pb2.MarkPickedUpResponse(delivery=delivery_message(delivery))

    async def MarkDelivered(
        self, request: orders_internal_pb2.MarkDeliveredRequest, context: ServicerContext
    ) -> orders_internal_pb2.MarkDeliveredResponse:
        command = requests.read_courier_command(MarkDelivered, request)
        delivery = await self._transitions.mark_delivered(command)
        return orders_internal_pb2.MarkDeliveredResponse(delivery=delivery_message(delivery))


def _idempotency_header(context: ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == IDEMPOTENCY_KEY_HEADER and isinstance(value, str):
            return value
    return None


async def _import_items(
    stream: AsyncIterable[
        orders_pb2.ImportDeliveriesRequest
        | validation.InvalidMessage[orders_pb2.ImportDeliveriesRequest]
    ],
) -> AsyncIterator[ImportItem]:
    # Translated one at a time as the handler pulls, so no request outlives its item.
    async for request in stream:
        yield requests.read_import_item(request)
