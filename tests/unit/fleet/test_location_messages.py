"""Locations on the hot path: the reading of pings, the contract's rules that name every
bad field of the rest, and the one-go encoding for dispatch and tracking."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from lastmile.common.v1 import geo_pb2
from lastmile.events.v1 import courier_events_pb2, envelope_pb2
from lastmile.fleet.v1 import courier_pb2
from lastmile.fleet.v1 import courier_session_pb2 as session_pb2
from services.fleet.adapters.fleet_messages import location_message
from services.fleet.adapters.link_messages import position_batch
from services.fleet.adapters.nats_positions import POSITION_CHANGED, _envelope
from services.fleet.domain.values import Fix
from services.fleet.entrypoints.session_requests import read_request
from services.fleet.service_layer.ports import PositionReport
from services.fleet.service_layer.session_messages import Heartbeat, Malformed, ReportLocations
from services.runtime import validation

SECONDS = 1_900_000_000


def location(
    latitude: float = 52.5,
    longitude: float = 13.4,
    *,
    seconds: int = SECONDS,
    nanos: int = 0,
    accuracy: float = 5.0,
    heading: float | None = None,
    speed: float | None = None,
    point: bool = True,
    recorded: bool = True,
) -> courier_pb2.Location:
    message = courier_pb2.Location(accuracy_meters=accuracy)
    if point:
        message.point.CopyFrom(geo_pb2.GeoPoint(latitude=latitude, longitude=longitude))
    if recorded:
        message.recorded_time.CopyFrom(Timestamp(seconds=seconds, nanos=nanos))
    if heading is not None:
        message.heading_degrees = heading
    if speed is not None:
        message.speed_meters_per_second = speed
    return message


def ping(*locations: courier_pb2.Location, message_id: str = "") -> session_pb2.ConnectRequest:
    return session_pb2.ConnectRequest(
        client_message_id=message_id,
        location_update=session_pb2.LocationUpdate(locations=locations),
    )


def violated_fields(request: session_pb2.ConnectRequest) -> set[str]:
    error = validation.REQUESTS.error(request)
    assert error is not None
    _, command = read_request(validation.InvalidMessage(request, error))
    assert isinstance(command, Malformed)
    return {violation.field for violation in command.error.violations}


def test_a_well_formed_ping_reports_its_newest_fix_in_nanoseconds() -> None:
    message_id, command = read_request(
        ping(
            location(52.1, seconds=SECONDS, nanos=999_999_999, heading=90.0, speed=3.0),
            location(52.2, seconds=SECONDS + 1, nanos=5),
            location(52.0, seconds=SECONDS - 1),
            message_id="p-1",
        )
    )
    assert message_id == "p-1"
    assert command == ReportLocations(Fix(52.2, 13.4, (SECONDS + 1) * 10**9 + 5, 5.0), 3)


def test_a_heartbeat_is_read_cheaply() -> None:
    _, command = read_request(session_pb2.ConnectRequest(heartbeat=session_pb2.Heartbeat()))
    assert isinstance(command, Heartbeat)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (location(math.nan), "point.latitude"),
        (location(91.0), "point.latitude"),
        (location(longitude=-180.5), "point.longitude"),
        (location(point=False), "point"),
        (location(recorded=False), "recorded_time"),
        (location(seconds=253_402_300_800), "recorded_time"),
        (location(accuracy=-1.0), "accuracy_meters"),
        (location(accuracy=math.inf), "accuracy_meters"),
        (location(heading=360.0), "heading_degrees"),
        (location(heading=math.nan), "heading_degrees"),
        (location(speed=-0.5), "speed_meters_per_second"),
        (location(speed=math.inf), "speed_meters_per_second"),
    ],
)
def test_a_bad_location_is_named_with_its_path(bad: courier_pb2.Location, field: str) -> None:
    assert violated_fields(ping(location(), bad)) == {f"location_update.locations[1].{field}"}


def test_a_ping_with_no_or_too_many_locations_is_refused() -> None:
    assert violated_fields(ping()) == {"location_update.locations"}
    assert violated_fields(ping(*[location()] * 101)) == {"location_update.locations"}
    too_long = ping(location(), message_id="x" * 129)
    assert violated_fields(too_long) == {"client_message_id"}


def test_every_location_the_contract_accepts_reads_as_its_fix() -> None:
    rng = random.Random(7)
    values: dict[str, list[Any]] = {
        "latitude": [52.5, -90.0, 90.0, 90.5, math.nan, math.inf],
        "longitude": [13.4, 180.0, -181.0, math.nan],
        "seconds": [SECONDS, -62_135_596_800, -62_135_596_801, 253_402_300_799],
        "nanos": [0, 999_999_999],
        "accuracy": [0.0, 5.0, -0.1, math.nan, math.inf],
        "heading": [None, 0.0, 359.9, 360.0, -1.0, math.nan],
        "speed": [None, 0.0, 12.5, -1.0, math.inf, math.nan],
    }
    accepted = 0
    for combination in rng.sample(list(itertools.product(*values.values())), 3000):
        fields = dict(zip(values, combination, strict=True))
        request = ping(location(**fields))
        if validation.REQUESTS.error(request) is not None:
            continue
        accepted += 1
        _, command = read_request(request)
        assert isinstance(command, ReportLocations), fields
        newest = command.newest
        assert newest is not None
        assert (newest.latitude, newest.longitude) == (fields["latitude"], fields["longitude"])
        assert newest.recorded_ns == fields["seconds"] * 10**9 + fields["nanos"]
        assert (newest.heading_degrees is None) == (fields["heading"] is None)
    assert accepted > 0


def test_a_batch_for_dispatch_carries_each_fix_as_the_app_sent_it() -> None:
    fixes = {
        "c-1": Fix(52.5, 13.4, SECONDS * 10**9 + 123_456_789, 4.0, 180.0, 2.5),
        "c-2": Fix(-33.9, 151.2, -(10**9) - 1, 0.0),
    }
    request = position_batch(fixes)
    assert request.WhichOneof("message") == "positions"
    batch = {p.courier_id: p.location for p in request.positions.positions}
    assert batch["c-1"] == location(
        52.5, 13.4, seconds=SECONDS, nanos=123_456_789, accuracy=4.0, heading=180.0, speed=2.5
    )
    assert batch["c-2"].recorded_time == Timestamp(seconds=-2, nanos=999_999_999)
    assert not batch["c-2"].HasField("heading_degrees")
    assert location_message(fixes["c-1"]) == batch["c-1"]
    assert position_batch({}).WhichOneof("message") == "positions"


def test_a_position_for_tracking_is_one_envelope_with_the_fix_and_the_delivery() -> None:
    fix = Fix(52.5, 13.4, SECONDS * 10**9 + 42, 3.0)
    envelope = envelope_pb2.EventEnvelope.FromString(
        _envelope(PositionReport("c-1", fix, "d-1"), {"traceparent": "x"})
    )
    payload = courier_events_pb2.CourierPositionChanged()
    assert envelope.payload.Unpack(payload)
    assert (envelope.type, envelope.source, envelope.subject) == (POSITION_CHANGED, "fleet", "c-1")
    assert envelope.time == Timestamp(seconds=SECONDS, nanos=42)
    assert envelope.event_id
    assert dict(envelope.trace_context) == {"traceparent": "x"}
    assert payload.delivery_id == "d-1"
    assert payload.position.location == location_message(fix)
