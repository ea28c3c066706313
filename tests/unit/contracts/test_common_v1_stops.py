"""lastmile.common.v1.Stop and Contact <-> the shared kernel: validation with request
paths, the optional contact of offers, and a lossless round trip."""

from __future__ import annotations

from lastmile.common.v1 import geo_pb2, stop_pb2
from services.contracts import common_v1
from services.runtime.errors import Violations
from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.stop import Contact, Stop

STOP = Stop("Torstraße 1", GeoPoint(52.52, 13.41), Contact("Ada", "+4915112345678"), "ring twice")


def test_a_stop_round_trips_through_its_message() -> None:
    message = common_v1.stop_message(STOP)
    violations = Violations()
    assert common_v1.read_stop(message, True, violations, "pickup") == STOP
    assert violations.found == []


def test_every_bad_part_of_a_stop_is_named_by_its_path() -> None:
    message = stop_pb2.Stop(
        address=" ",
        point=geo_pb2.GeoPoint(latitude=100, longitude=0),
        contact=stop_pb2.Contact(name="x" * 201, phone="12345"),
        instructions="i" * 501,
    )
    violations = Violations()
    assert common_v1.read_stop(message, True, violations.nested("delivery"), "pickup") is None
    assert {v.field for v in violations.found} == {
        "delivery.pickup.address",
        "delivery.pickup.point.latitude",
        "delivery.pickup.contact.name",
        "delivery.pickup.contact.phone",
        "delivery.pickup.instructions",
    }


def test_a_contact_is_required_unless_the_reader_says_otherwise() -> None:
    message = common_v1.stop_message(Stop("Torstraße 1", GeoPoint(52.52, 13.41)))
    required = Violations()
    assert common_v1.read_stop(message, True, required, "dropoff") is None
    assert [v.field for v in required.found] == ["dropoff.contact"]
    offer = Violations()
    stop = common_v1.read_stop(message, True, offer, "dropoff", contact_required=False)
    assert stop is not None
    assert stop.contact is None


def test_a_missing_stop_is_required() -> None:
    violations = Violations()
    assert common_v1.read_stop(stop_pb2.Stop(), False, violations, "pickup") is None
    assert [(v.field, v.description) for v in violations.found] == [("pickup", "is required")]
