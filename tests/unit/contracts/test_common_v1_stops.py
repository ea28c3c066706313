"""lastmile.common.v1.Stop and Contact <-> the shared kernel: the contract's rules with
request paths, the optional contact of offers, and a lossless round trip."""

from __future__ import annotations

import pytest

from lastmile.common.v1 import geo_pb2, stop_pb2
from lastmile.orders.v1 import delivery_pb2, orders_pb2
from services.contracts import common_v1
from services.runtime import validation
from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.stop import Contact, Stop

STOP = Stop("Torstraße 1", GeoPoint(52.52, 13.41), Contact("Ada", "+4915112345678"), "ring twice")


def violations_of_pickup(pickup: stop_pb2.Stop) -> dict[str, str]:
    request = orders_pb2.CreateDeliveryRequest(delivery=delivery_pb2.Delivery(pickup=pickup))
    error = validation.REQUESTS.error(request)
    assert error is not None
    return {
        v.field: v.description for v in error.violations if v.field.startswith("delivery.pickup")
    }


def test_a_stop_round_trips_through_its_message() -> None:
    message = common_v1.stop_message(STOP)
    assert common_v1.read_stop(message) == STOP
    assert violations_of_pickup(message) == {}


def test_every_bad_part_of_a_stop_is_named_by_its_path() -> None:
    message = stop_pb2.Stop(
        address=" ",
        point=geo_pb2.GeoPoint(latitude=100, longitude=0),
        contact=stop_pb2.Contact(name="x" * 201, phone="12345"),
        instructions="i" * 501,
    )
    assert set(violations_of_pickup(message)) == {
        "delivery.pickup.address",
        "delivery.pickup.point.latitude",
        "delivery.pickup.contact.name",
        "delivery.pickup.contact.phone",
        "delivery.pickup.instructions",
    }


@pytest.mark.parametrize("text", ["\x00", "a\x00b", "line\nbreak", "bell\x07", "del\x7f", "c1\x85"])
def test_control_characters_are_refused_in_every_text_field_of_a_stop(text: str) -> None:
    message = stop_pb2.Stop(
        address=f"Torstraße {text}",
        point=geo_pb2.GeoPoint(latitude=52.5, longitude=13.4),
        contact=stop_pb2.Contact(name=f"Ada {text}", phone="+4915112345678"),
        instructions=text,
    )
    assert violations_of_pickup(message) == {
        f"delivery.pickup.{field}": "must not contain control characters"
        for field in ("address", "contact.name", "instructions")
    }


@pytest.mark.parametrize(
    "phone", ["4915112345678", "+0151123456", "+49 151 1234", "+1234567890123456", ""]
)
def test_a_phone_must_be_e164(phone: str) -> None:
    message = common_v1.stop_message(STOP)
    message.contact.phone = phone
    assert set(violations_of_pickup(message)) == {"delivery.pickup.contact.phone"}


def test_the_contract_requires_a_contact_and_the_reader_reads_one_only_if_present() -> None:
    message = common_v1.stop_message(Stop("Torstraße 1", GeoPoint(52.52, 13.41)))
    assert violations_of_pickup(message) == {"delivery.pickup.contact": "is required"}
    stop = common_v1.read_stop(message)  # as in offers, which carry no contact
    assert stop.contact is None


def test_a_missing_stop_is_required() -> None:
    error = validation.REQUESTS.error(
        orders_pb2.CreateDeliveryRequest(delivery=delivery_pb2.Delivery())
    )
    assert error is not None
    assert ("delivery.pickup", "is required") in [
        (v.field, v.description) for v in error.violations
    ]
