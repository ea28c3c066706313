"""ConnectRequest -> the session's commands, validated: a malformed message becomes
Malformed with its INVALID_ARGUMENT naming every bad field, never an exception."""

from __future__ import annotations

from lastmile.fleet.v1 import courier_session_pb2 as session_pb2
from lastmile.fleet.v1 import offer_pb2
from services.fleet.adapters.fleet_messages import (
    DECLINE_REASONS_BY_VALUE,
    VEHICLES_BY_VALUE,
    location_fix,
    read_location,
)
from services.fleet.domain.offers import DeclineReason
from services.fleet.domain.values import Fix
from services.fleet.service_layer import session_messages as commands
from services.runtime.errors import InvalidArgument, Violations

MAX_LOCATIONS = 100
MAX_MESSAGE_ID_LENGTH = 128
MAX_NOTE_LENGTH = 200
_KINDS = ", ".join(
    field.name for field in session_pb2.ConnectRequest.DESCRIPTOR.oneofs_by_name["message"].fields
)


_HEARTBEAT = commands.Heartbeat()


def read_request(request: session_pb2.ConnectRequest) -> tuple[str, commands.Command]:
    """The client_message_id and what the message asks."""
    # The common case first, cheaply: a well-formed ping or heartbeat. Anything else (or
    # anything wrong) takes the full reading below, which names every bad field.
    message_id = request.client_message_id
    if len(message_id) <= MAX_MESSAGE_ID_LENGTH:
        kind = request.WhichOneof("message")
        if kind == "location_update":
            report = _locations_fast(request.location_update)
            if report is not None:
                return message_id, report
        elif kind == "heartbeat":
            return message_id, _HEARTBEAT
    violations = Violations()
    violations.check(
        len(request.client_message_id) <= MAX_MESSAGE_ID_LENGTH,
        "client_message_id",
        f"must be at most {MAX_MESSAGE_ID_LENGTH} characters",
    )
    command = _read_command(request, violations)
    if violations.found or command is None:
        return request.client_message_id, commands.Malformed(InvalidArgument(violations.found))
    return request.client_message_id, command


def _read_command(
    request: session_pb2.ConnectRequest, violations: Violations
) -> commands.Command | None:
    match request.WhichOneof("message"):
        case "location_update":
            return _read_locations(request.location_update, violations.nested("location_update"))
        case "heartbeat":
            return _HEARTBEAT
        case "go_online":
            return _read_go_online(request.go_online, violations.nested("go_online"))
        case "go_offline":
            return commands.GoOffline()
        case "accept_offer":
            offer_id = request.accept_offer.offer_id
            violations.check(bool(offer_id), "accept_offer.offer_id", "is required")
            return commands.AcceptOffer(offer_id)
        case "decline_offer":
            return _read_decline(request.decline_offer, violations.nested("decline_offer"))
        case "confirm_pickup":
            delivery_id = request.confirm_pickup.delivery_id
            violations.check(bool(delivery_id), "confirm_pickup.delivery_id", "is required")
            return commands.ConfirmPickup(delivery_id)
        case "confirm_dropoff":
            delivery_id = request.confirm_dropoff.delivery_id
            violations.check(bool(delivery_id), "confirm_dropoff.delivery_id", "is required")
            return commands.ConfirmDropoff(delivery_id)
    violations.add("message", f"exactly one of {_KINDS} must be set")
    return None


def _locations_fast(update: session_pb2.LocationUpdate) -> commands.ReportLocations | None:
    """The report of an update whose every location is well-formed; None otherwise."""
    locations = update.locations
    count = len(locations)
    if not 1 <= count <= MAX_LOCATIONS:
        return None
    newest: Fix | None = None
    for location in locations:
        fix = location_fix(location)
        if fix is None:
            return None
        if newest is None or fix.recorded_ns > newest.recorded_ns:
            newest = fix
    assert newest is not None
    return commands.ReportLocations(newest, count)


def _read_locations(
    update: session_pb2.LocationUpdate, violations: Violations
) -> commands.ReportLocations | None:
    count = len(update.locations)
    if not 1 <= count <= MAX_LOCATIONS:
        violations.add("locations", f"must hold 1 to {MAX_LOCATIONS} locations, got {count}")
        return None
    newest: Fix | None = None
    for index, location in enumerate(update.locations):
        fix = read_location(location, violations.nested(f"locations[{index}]"))
        if fix is not None and (newest is None or fix.recorded_ns > newest.recorded_ns):
            newest = fix
    return commands.ReportLocations(newest, count) if newest is not None else None


def _read_go_online(
    go_online: session_pb2.GoOnline, violations: Violations
) -> commands.GoOnline | None:
    vehicle = VEHICLES_BY_VALUE.get(go_online.vehicle_type)
    if vehicle is None:
        names = ", ".join(VEHICLES_BY_VALUE[value].name for value in VEHICLES_BY_VALUE)
        violations.add("vehicle_type", f"must be one of VEHICLE_TYPE_{{{names}}}")
    fix = None
    if go_online.HasField("location"):
        fix = read_location(go_online.location, violations.nested("location"))
    return commands.GoOnline(vehicle, fix) if vehicle is not None else None


def _read_decline(
    decline: session_pb2.DeclineOffer, violations: Violations
) -> commands.DeclineOffer:
    violations.check(bool(decline.offer_id), "offer_id", "is required")
    violations.check(
        len(decline.note) <= MAX_NOTE_LENGTH,
        "note",
        f"must be at most {MAX_NOTE_LENGTH} characters",
    )
    reason = DECLINE_REASONS_BY_VALUE.get(decline.reason)
    if reason is None and decline.reason != offer_pb2.DECLINE_REASON_UNSPECIFIED:
        violations.add("reason", "must be a DeclineReason")
    # Not given is accepted and counted as OTHER.
    return commands.DeclineOffer(decline.offer_id, reason or DeclineReason.OTHER)
