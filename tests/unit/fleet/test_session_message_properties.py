"""Courier messages over generated input: every ConnectRequest the contract's rules
admit reads as its command without an exception (the reader assumes nothing the
contract does not promise), a location it admits is a fix on the globe, and one it
refuses reads as Malformed with the contract's error."""

from __future__ import annotations

import math

from hypothesis import event, given
from hypothesis import strategies as st

from lastmile.common.v1 import geo_pb2
from lastmile.fleet.v1 import courier_pb2, offer_pb2
from lastmile.fleet.v1 import courier_session_pb2 as session_pb2
from services.fleet.adapters.fleet_messages import location_fix
from services.fleet.entrypoints.session_requests import read_request
from services.fleet.service_layer import session_messages as commands
from services.runtime.validation import REQUESTS, InvalidMessage

anything = st.floats(allow_nan=True, allow_infinity=True, width=32)
BREAKABLE = ["point", "time", "latitude", "longitude", "accuracy", "heading", "speed",
             "seconds", "nanos"]  # fmt: skip
MEMBERS = [f.name for f in session_pb2.ConnectRequest.DESCRIPTOR.oneofs_by_name["message"].fields]
ids = st.just("3f1c9a5e-8a0b-4c1e-9f8e-2d6c4b7a1e90") | st.text(max_size=140)


@st.composite
def locations(draw: st.DrawFn) -> courier_pb2.Location:
    """A well-formed location with none or one of its fields missing or out of range."""
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
    if draw(st.booleans()):
        location.speed_meters_per_second = draw(st.floats(0, 50, width=32))
    broken = draw(st.just("") | st.sampled_from(BREAKABLE))
    if broken == "point":
        location.ClearField("point")
    elif broken == "time":
        location.ClearField("recorded_time")
    elif broken in ("latitude", "longitude"):
        setattr(location.point, broken, draw(anything | st.floats(-400, 400)))
    elif broken == "accuracy":
        location.accuracy_meters = draw(anything)
    elif broken == "heading":
        location.heading_degrees = draw(anything | st.floats(-720, 720, width=32))
    elif broken == "speed":
        location.speed_meters_per_second = draw(anything)
    elif broken == "seconds":
        location.recorded_time.seconds = draw(st.integers(-(2**40), 2**40))
    elif broken == "nanos":
        location.recorded_time.nanos = draw(st.integers(-5, 2 * 10**9))
    return location


@st.composite
def connect_requests(draw: st.DrawFn) -> session_pb2.ConnectRequest:
    message_id = draw(st.sampled_from(["", "7", "a" * 129, "bad\x00id"]) | st.text(max_size=8))
    request = session_pb2.ConnectRequest(client_message_id=message_id)
    kind = draw(st.sampled_from(MEMBERS))
    member = getattr(request, kind)
    member.SetInParent()
    if kind == "location_update":
        member.locations.extend(draw(st.lists(locations(), max_size=3)))
    elif kind == "go_online":
        member.vehicle_type = draw(st.integers(1, 5) | st.integers(-1, 8))
        if draw(st.booleans()):
            member.location.CopyFrom(draw(locations()))
    elif kind == "decline_offer":
        member.offer_id = draw(ids)
        member.reason = draw(
            st.sampled_from(offer_pb2.DeclineReason.values()) | st.integers(-1, 50)
        )
        member.note = draw(st.just("too far") | st.text(max_size=220))
    elif kind == "accept_offer":
        member.offer_id = draw(ids)
    elif kind in ("confirm_pickup", "confirm_dropoff"):
        member.delivery_id = draw(ids)
    return request


@given(connect_requests())
def test_a_request_the_contract_admits_reads_as_its_command_and_a_refused_one_as_malformed(
    request: session_pb2.ConnectRequest,
) -> None:
    error = REQUESTS.error(request)
    event(f"{request.WhichOneof('message')} {'admitted' if error is None else 'refused'}")
    if error is not None:
        assert read_request(InvalidMessage(request, error)) == (
            request.client_message_id,
            commands.Malformed(error),
        )
        return
    message_id, command = read_request(request)
    assert message_id == request.client_message_id
    assert not isinstance(command, commands.Malformed)
    if isinstance(command, commands.ReportLocations):
        fixes = [location_fix(location) for location in request.location_update.locations]
        assert command.received == len(fixes)
        assert command.newest.recorded_ns == max(fix.recorded_ns for fix in fixes)


@given(locations())
def test_a_location_the_contract_admits_is_a_fix_on_the_globe(
    location: courier_pb2.Location,
) -> None:
    request = session_pb2.ConnectRequest(
        location_update=session_pb2.LocationUpdate(locations=[location])
    )
    admitted = REQUESTS.error(request) is None
    event("admitted" if admitted else "refused")
    if not admitted:
        return
    fix = location_fix(location)
    assert -90 <= fix.latitude <= 90
    assert -180 <= fix.longitude <= 180
    assert math.isfinite(fix.accuracy_meters)
    assert fix.accuracy_meters >= 0
    assert fix.heading_degrees is None or 0 <= fix.heading_degrees < 360
    assert fix.speed_meters_per_second is None or (
        math.isfinite(fix.speed_meters_per_second) and fix.speed_meters_per_second >= 0
    )
