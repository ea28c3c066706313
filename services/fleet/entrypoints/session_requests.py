"""ConnectRequest -> the session's commands. The runtime has checked each message
against the contract's rules as it was read; one that broke them arrives as an
InvalidMessage and becomes Malformed with its INVALID_ARGUMENT, never an exception."""

from __future__ import annotations

from lastmile.fleet.v1 import courier_session_pb2 as session_pb2
from services.fleet.adapters.fleet_messages import (
    DECLINE_REASONS_BY_VALUE,
    VEHICLES_BY_VALUE,
    location_fix,
)
from services.fleet.domain.offers import DeclineReason
from services.fleet.service_layer import session_messages as commands
from services.runtime.validation import InvalidMessage

SessionRequest = session_pb2.ConnectRequest | InvalidMessage[session_pb2.ConnectRequest]

_HEARTBEAT = commands.Heartbeat()


def read_request(request: SessionRequest) -> tuple[str, commands.Command]:
    """The client_message_id and what the message asks."""
    if isinstance(request, InvalidMessage):
        return request.message.client_message_id, commands.Malformed(request.error)
    message_id = request.client_message_id
    match request.WhichOneof("message"):
        case "location_update":
            return message_id, _read_locations(request.location_update)
        case "heartbeat":
            return message_id, _HEARTBEAT
        case "go_online":
            go_online = request.go_online
            fix = location_fix(go_online.location) if go_online.HasField("location") else None
            return message_id, commands.GoOnline(VEHICLES_BY_VALUE[go_online.vehicle_type], fix)
        case "go_offline":
            return message_id, commands.GoOffline()
        case "accept_offer":
            return message_id, commands.AcceptOffer(request.accept_offer.offer_id)
        case "decline_offer":
            decline = request.decline_offer
            # Not given is accepted and counted as OTHER.
            reason = DECLINE_REASONS_BY_VALUE.get(decline.reason, DeclineReason.OTHER)
            return message_id, commands.DeclineOffer(decline.offer_id, reason)
        case "confirm_pickup":
            return message_id, commands.ConfirmPickup(request.confirm_pickup.delivery_id)
        case "confirm_dropoff":
            return message_id, commands.ConfirmDropoff(request.confirm_dropoff.delivery_id)
    # The contract requires one member of the oneof; this is one the contract added later.
    raise ValueError(f"unknown ConnectRequest member {request.WhichOneof('message')!r}")


def _read_locations(update: session_pb2.LocationUpdate) -> commands.ReportLocations:
    newest = None
    for location in update.locations:
        fix = location_fix(location)
        if newest is None or fix.recorded_ns > newest.recorded_ns:
            newest = fix
    assert newest is not None  # the contract asks for 1 to 100 locations
    return commands.ReportLocations(newest, len(update.locations))
