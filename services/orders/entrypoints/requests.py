"""lastmile.orders.v1 requests -> commands, validated, with every violation named by
its path in the request."""

from __future__ import annotations

from typing import TypeVar

from lastmile.orders.v1 import delivery_pb2, orders_internal_pb2, orders_pb2
from services.contracts import common_v1
from services.orders.adapters.delivery_messages import STATUSES_BY_VALUE
from services.orders.domain.delivery import MAX_CANCEL_REASON_LENGTH, Assignment, DeliveryStatus
from services.orders.domain.idempotency import check_idempotency_key
from services.orders.domain.request import DeliveryRequest
from services.orders.service_layer.commands import (
    CancelDelivery,
    CourierCommand,
    CreateDelivery,
    ImportItem,
    ListDeliveries,
)
from services.runtime.errors import InvalidArgument, Violations

MAX_ACCOUNT_ID_LENGTH = 128
CommandT = TypeVar("CommandT", bound=CourierCommand)
_STATUS_NAMES = ", ".join(delivery_pb2.DeliveryStatus.Name(v) for v in STATUSES_BY_VALUE)

OrdersCourierRequest = (
    orders_internal_pb2.AssignCourierRequest
    | orders_internal_pb2.MarkPickedUpRequest
    | orders_internal_pb2.MarkDeliveredRequest
)


def read_delivery_request(
    message: delivery_pb2.Delivery, present: bool, violations: Violations, path: str
) -> DeliveryRequest | None:
    """The client's part of a Delivery; output-only fields are ignored."""
    if not present:
        violations.add(path, "is required")
        return None
    nested = violations.nested(path)
    before = len(violations.found)
    pickup = common_v1.read_stop(message.pickup, message.HasField("pickup"), nested, "pickup")
    dropoff = common_v1.read_stop(message.dropoff, message.HasField("dropoff"), nested, "dropoff")
    parcel = common_v1.read_parcel(message.parcel, message.HasField("parcel"), nested, "parcel")
    level = common_v1.read_service_level(message.service_level, nested, "service_level")
    nested.check(
        len(message.customer_id) <= MAX_ACCOUNT_ID_LENGTH,
        "customer_id",
        f"must be at most {MAX_ACCOUNT_ID_LENGTH} characters",
    )
    if pickup is None or dropoff is None or parcel is None or level is None:
        return None
    if len(violations.found) > before:
        return None
    return DeliveryRequest(
        pickup,
        dropoff,
        parcel,
        level,
        quote_id=message.quote_id or None,
        customer_id=message.customer_id or None,
    )


def read_create(
    request: orders_pb2.CreateDeliveryRequest, metadata_key: str | None
) -> CreateDelivery:
    """The key may come in the field or the `idempotency-key` metadata; both must agree."""
    violations = Violations()
    delivery = read_delivery_request(
        request.delivery, request.HasField("delivery"), violations, "delivery"
    )
    field_key = request.idempotency_key
    if field_key and metadata_key is not None and field_key != metadata_key:
        violations.add(
            "idempotency_key", "differs from the idempotency-key metadata; send one, or both equal"
        )
    key = field_key or metadata_key
    if key is not None:
        check_idempotency_key(key, violations, "idempotency_key")
    return CreateDelivery(violations.resolve(delivery), key or None)


def read_import_item(request: orders_pb2.ImportDeliveriesRequest) -> ImportItem:
    """An item's command, or the InvalidArgument that says why it cannot be one."""
    violations = Violations()
    delivery = read_delivery_request(
        request.delivery, request.HasField("delivery"), violations, "delivery"
    )
    if request.idempotency_key:
        check_idempotency_key(request.idempotency_key, violations, "idempotency_key")
    else:
        violations.add("idempotency_key", "is required for every import item")
    key = request.idempotency_key
    try:
        return ImportItem(key, CreateDelivery(violations.resolve(delivery), key))
    except InvalidArgument as invalid:
        return ImportItem(key, invalid)


def read_list(request: orders_pb2.ListDeliveriesRequest) -> ListDeliveries:
    violations = Violations()
    statuses: set[DeliveryStatus] = set()
    for index, value in enumerate(request.statuses):
        status = STATUSES_BY_VALUE.get(value)
        if status is None:
            violations.add(f"statuses[{index}]", f"must be one of {_STATUS_NAMES}")
        else:
            statuses.add(status)
    violations.raise_if_any()
    return ListDeliveries(request.page_size, request.page_token, frozenset(statuses))


def read_delivery_id(delivery_id: str) -> str:
    violations = Violations()
    violations.check(bool(delivery_id), "delivery_id", "is required")
    violations.raise_if_any()
    return delivery_id


def read_cancel(request: orders_pb2.CancelDeliveryRequest) -> CancelDelivery:
    violations = Violations()
    violations.check(bool(request.delivery_id), "delivery_id", "is required")
    violations.check(
        len(request.reason) <= MAX_CANCEL_REASON_LENGTH,
        "reason",
        f"must be at most {MAX_CANCEL_REASON_LENGTH} characters",
    )
    violations.raise_if_any()
    return CancelDelivery(request.delivery_id, request.reason)


def read_courier_command(kind: type[CommandT], request: OrdersCourierRequest) -> CommandT:
    violations = Violations()
    for name in ("delivery_id", "courier_id", "offer_id"):
        violations.check(bool(getattr(request, name)), name, "is required")
    violations.raise_if_any()
    return kind(request.delivery_id, Assignment(request.courier_id, request.offer_id))
