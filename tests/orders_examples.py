"""Valid orders requests and signed-in callers that orders tests build on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from lastmile.common.v1 import geo_pb2, parcel_pb2, stop_pb2
from lastmile.orders.v1 import delivery_pb2, orders_pb2
from services.runtime.interceptors.auth_context import ACCOUNT_ID_HEADER, ROLE_HEADER

Metadata = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Account:
    """A caller as the gateway forwards it: account id and role."""

    role: str
    account_id: str

    @property
    def metadata(self) -> Metadata:
        return ((ACCOUNT_ID_HEADER, self.account_id), (ROLE_HEADER, self.role))

    def with_key(self, key: str) -> Metadata:
        return (*self.metadata, ("idempotency-key", key))


def account(role: str) -> Account:
    return Account(role, str(uuid.uuid4()))


def stop(
    latitude: float, longitude: float, address: str = "Torstraße 1, 10119 Berlin"
) -> stop_pb2.Stop:
    return stop_pb2.Stop(
        address=address,
        point=geo_pb2.GeoPoint(latitude=latitude, longitude=longitude),
        contact=stop_pb2.Contact(name="Ada Lovelace", phone="+4915112345678"),
        instructions="ring twice",
    )


def delivery(**overrides: object) -> delivery_pb2.Delivery:
    """A small standard parcel across Berlin-Mitte, priced at 5.00 EUR by the default tariff."""
    fields: dict[str, object] = {
        "pickup": stop(52.5219, 13.4132),
        "dropoff": stop(52.5319, 13.4132, "Invalidenstraße 50, 10115 Berlin"),
        "parcel": parcel_pb2.Parcel(size=parcel_pb2.PARCEL_SIZE_SMALL, weight_grams=1000),
        "service_level": parcel_pb2.SERVICE_LEVEL_STANDARD,
    }
    fields.update(overrides)
    return delivery_pb2.Delivery(**fields)  # type: ignore[arg-type]


def create_request(key: str = "", /, **overrides: object) -> orders_pb2.CreateDeliveryRequest:
    return orders_pb2.CreateDeliveryRequest(delivery=delivery(**overrides), idempotency_key=key)


# Every text field a client writes into a Delivery, by its path: each refuses control
# characters, NUL included, by the contract's one `text` rule.
DELIVERY_TEXT_FIELDS = (
    "pickup.address",
    "pickup.instructions",
    "pickup.contact.name",
    "dropoff.address",
    "dropoff.instructions",
    "dropoff.contact.name",
    "parcel.description",
    "quote_id",
    "customer_id",
)


def with_text(message: delivery_pb2.Delivery, path: str, text: str) -> delivery_pb2.Delivery:
    """A copy of `message` whose field at `path` (dotted) holds `text`."""
    edited = delivery_pb2.Delivery()
    edited.CopyFrom(message)
    *parents, name = path.split(".")
    target: Any = edited
    for parent in parents:
        target = getattr(target, parent)
    setattr(target, name, text)
    return edited
