"""Courier messages over generated input: the hot path that reads a location refuses
exactly what the full reading names, and any ConnectRequest a client can encode reads as
one command or as Malformed with its violations, never as an exception."""

from __future__ import annotations

from google.protobuf.message import DecodeError
from hypothesis import event, given
from hypothesis import strategies as st

from lastmile.common.v1 import geo_pb2
from lastmile.fleet.v1 import courier_pb2
from lastmile.fleet.v1 import courier_session_pb2 as session_pb2
from services.fleet.adapters.fleet_messages import location_fix, read_location
from services.fleet.entrypoints.session_requests import read_request
from services.fleet.service_layer import session_messages as commands
from services.runtime.errors import Violations

any_float = st.floats(allow_nan=True, allow_infinity=True, width=32)
coordinates = st.one_of(st.floats(-200, 200), st.floats(allow_nan=True, allow_infinity=True))


@st.composite
def locations(draw: st.DrawFn) -> courier_pb2.Location:
    location = courier_pb2.Location(accuracy_meters=draw(any_float))
    if draw(st.booleans()):
        location.point.CopyFrom(
            geo_pb2.GeoPoint(latitude=draw(coordinates), longitude=draw(coordinates))
        )
    if draw(st.booleans()):
        location.recorded_time.seconds = draw(st.integers(-(2**40), 2**40))
        location.recorded_time.nanos = draw(st.integers(-5, 2 * 10**9))
    if draw(st.booleans()):
        location.heading_degrees = draw(any_float)
    if draw(st.booleans()):
        location.speed_meters_per_second = draw(any_float)
    return location


@st.composite
def well_formed_locations(draw: st.DrawFn) -> courier_pb2.Location:
    location = courier_pb2.Location(
        point=geo_pb2.GeoPoint(
            latitude=draw(st.floats(-90, 90)), longitude=draw(st.floats(-180, 180))
        ),
        accuracy_meters=draw(st.floats(0, 10_000, width=32)),
    )
    location.recorded_time.seconds = draw(st.integers(0, 2**33))
    location.recorded_time.nanos = draw(st.integers(0, 10**9 - 1))
    if draw(st.booleans()):
        location.heading_degrees = draw(st.floats(0, 359, width=32))
    return location


some_locations = st.one_of(well_formed_locations(), locations())


@given(some_locations)
def test_the_fast_location_check_refuses_exactly_what_the_full_reading_names(
    location: courier_pb2.Location,
) -> None:
    violations = Violations()
    read = read_location(location, violations)
    assert (location_fix(location) is None) == bool(violations.found)
    assert read == location_fix(location)


@given(st.lists(some_locations, max_size=4), st.text(max_size=5))
def test_a_location_update_reads_the_same_on_the_fast_and_the_full_path(
    batch: list[courier_pb2.Location], message_id: str
) -> None:
    request = session_pb2.ConnectRequest(
        client_message_id=message_id,
        location_update=session_pb2.LocationUpdate(locations=batch),
    )
    read_id, command = read_request(request)
    assert read_id == message_id
    fixes = [location_fix(location) for location in batch]
    if batch and all(fix is not None for fix in fixes):
        event("a well-formed batch")
        assert isinstance(command, commands.ReportLocations)
        assert command.received == len(batch)
        assert command.newest.recorded_ns == max(fix.recorded_ns for fix in fixes if fix)
    else:
        assert isinstance(command, commands.Malformed)
        assert command.error.violations


@given(st.binary(max_size=200))
def test_any_connect_request_a_client_can_encode_reads_as_a_command_or_as_malformed(
    data: bytes,
) -> None:
    try:
        request = session_pb2.ConnectRequest.FromString(data)
    except DecodeError:
        return  # refused before any reading, with INVALID_ARGUMENT (the runtime's pipeline)
    message_id, command = read_request(request)
    assert message_id == request.client_message_id
    if isinstance(command, commands.Malformed):
        assert command.error.violations
