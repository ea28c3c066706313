"""lastmile.orders.v1 requests -> commands.

The runtime has already checked every request against the contract's `buf.validate`
rules before a servicer runs, so these readers only translate. What is left here is
what no rule on one message can say: the idempotency key that comes as metadata.
"""

from __future__ import annotations

from typing import TypeVar

from lastmile.orders.v1 import delivery_pb2, orders_internal_pb2, orders_pb2
from services.contracts import common_v1
from services.orders.adapters.delivery_messages import STATUSES_BY_VALUE
from services.orders.domain.delivery import Assignment
from services.orders.domain.request import DeliveryRequest
from services.orders.service_layer.commands import (
    CancelDelivery,
    CourierCommand,
    CreateDelivery,
    ImportItem,
    ListDeliveries,
)
from services.runtime import validation
from services.runtime.errors import FieldViolation, InvalidArgument

CommandT = TypeVar("CommandT", bound=CourierCommand)

OrdersCourierRequest = (
    orders_internal_pb2.AssignCourierRequest
    | orders_internal_pb2.MarkPickedUpRequest
    | orders_internal_pb2.MarkDeliveredRequest
)


def read_delivery_request(message: delivery_pb2.Delivery) -> DeliveryRequest:
    """The client's part of a Delivery; output-only fields are ignored."""
    return DeliveryRequest(
        common_v1.read_stop(message.pickup),
        common_v1.read_stop(message.dropoff),
        common_v1.read_parcel(message.parcel),
        common_v1.read_service_level(message.service_level),
        quote_id=message.quote_id or None,
        customer_id=message.customer_id or None,
    )


def read_create(
    request: orders_pb2.CreateDeliveryRequest, metadata_key: str | None
) -> CreateDelivery:
    """The key may come in the field or the `idempotency-key` metadata; both must agree."""
    field_key = request.idempotency_key
    if field_key and metadata_key is not None and field_key != metadata_key:
        raise InvalidArgument(
            [
                FieldViolation(
                    "idempotency_key",
                    "differs from the idempotency-key metadata; send one, or both equal",
                )
            ]
        )
    if not field_key and metadata_key:
        _check_metadata_key(metadata_key)
    return CreateDelivery(
        read_delivery_request(request.delivery), field_key or metadata_key or None
    )


def _check_metadata_key(key: str) -> None:
    # Metadata is no message field, so the pipeline never saw it: hold it to the
    # contract's rule for the field it stands for, rather than to a copy of that rule.
    error = validation.REQUESTS.error(orders_pb2.CreateDeliveryRequest(idempotency_key=key))
    if error is not None:
        found = [v for v in error.violations if v.field == "idempotency_key"]
        if found:
            raise InvalidArgument(found)


def read_import_item(
    request: orders_pb2.ImportDeliveriesRequest
    | validation.InvalidMessage[orders_pb2.ImportDeliveriesRequest],
) -> ImportItem:
    """An item's command, or the InvalidArgument that says why it cannot be one."""
    if isinstance(request, validation.InvalidMessage):
        return ImportItem(request.message.idempotency_key, request.error)
    key = request.idempotency_key
    return ImportItem(key, CreateDelivery(read_delivery_request(request.delivery), key))


def read_list(request: orders_pb2.ListDeliveriesRequest) -> ListDeliveries:
    statuses = frozenset(STATUSES_BY_VALUE[value] for value in request.statuses)
    return ListDeliveries(request.page_size, request.page_token, statuses)


def read_cancel(request: orders_pb2.CancelDeliveryRequest) -> CancelDelivery:
    return CancelDelivery(request.delivery_id, request.reason)


def read_courier_command(kind: type[CommandT], request: OrdersCourierRequest) -> CommandT:
    return kind(request.delivery_id, Assignment(request.courier_id, request.offer_id))
