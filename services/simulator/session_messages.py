"""Translation between the simulated courier and the lastmile.fleet.v1 session messages:
protobuf stops here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import count

from google.protobuf.timestamp_pb2 import Timestamp

from lastmile.common.v1 import geo_pb2, parcel_pb2
from lastmile.fleet.v1 import courier_pb2, courier_session_pb2, offer_pb2
from services.shared_kernel.geo import GeoPoint
from services.simulator.errands import DeclineReason, Errand, OfferedDelivery
from services.simulator.movement import Fix
from services.simulator.vehicles import Vehicle

Request = courier_session_pb2.ConnectRequest

VEHICLE_TYPES = {
    Vehicle.BICYCLE: courier_pb2.VEHICLE_TYPE_BICYCLE,
    Vehicle.CARGO_BIKE: courier_pb2.VEHICLE_TYPE_CARGO_BIKE,
    Vehicle.MOTORBIKE: courier_pb2.VEHICLE_TYPE_MOTORBIKE,
    Vehicle.CAR: courier_pb2.VEHICLE_TYPE_CAR,
    Vehicle.VAN: courier_pb2.VEHICLE_TYPE_VAN,
}
DECLINE_REASONS = {
    DeclineReason.TOO_FAR: offer_pb2.DECLINE_REASON_TOO_FAR,
    DeclineReason.PARCEL_UNSUITABLE: offer_pb2.DECLINE_REASON_PARCEL_UNSUITABLE,
    DeclineReason.PAYOUT_TOO_LOW: offer_pb2.DECLINE_REASON_PAYOUT_TOO_LOW,
    DeclineReason.UNAVAILABLE: offer_pb2.DECLINE_REASON_UNAVAILABLE,
}
_SIZE_PREFIX = "PARCEL_SIZE_"


class MessageIds:
    """client_message_ids unique across reconnects and across simulator runs: a random
    prefix per courier agent and a counter."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._counter = count(1)

    def next(self) -> str:
        return f"{self._prefix}-{next(self._counter)}"


def _point(point: GeoPoint) -> geo_pb2.GeoPoint:
    return geo_pb2.GeoPoint(latitude=point.latitude, longitude=point.longitude)


def location(fix: Fix) -> courier_pb2.Location:
    recorded = Timestamp()
    recorded.FromNanoseconds(int(fix.recorded_at * 1e9))
    message = courier_pb2.Location(point=_point(fix.position), recorded_time=recorded)
    if fix.heading_degrees is not None:
        message.heading_degrees = fix.heading_degrees
    if fix.speed_mps is not None:
        message.speed_meters_per_second = fix.speed_mps
    return message


def go_online(message_id: str, vehicle: Vehicle, fix: Fix) -> Request:
    online = courier_session_pb2.GoOnline(
        vehicle_type=VEHICLE_TYPES[vehicle], location=location(fix)
    )
    return Request(client_message_id=message_id, go_online=online)


def go_offline(message_id: str) -> Request:
    return Request(client_message_id=message_id, go_offline=courier_session_pb2.GoOffline())


def location_update(fixes: Iterable[Fix]) -> Request:
    """Location updates carry no id: an Ack per fix batch is not worth the traffic."""
    update = courier_session_pb2.LocationUpdate(locations=[location(fix) for fix in fixes])
    return Request(location_update=update)


def heartbeat(message_id: str) -> Request:
    return Request(client_message_id=message_id, heartbeat=courier_session_pb2.Heartbeat())


def accept(message_id: str, offer_id: str) -> Request:
    return Request(
        client_message_id=message_id,
        accept_offer=courier_session_pb2.AcceptOffer(offer_id=offer_id),
    )


def decline(message_id: str, offer_id: str, reason: DeclineReason) -> Request:
    declined = courier_session_pb2.DeclineOffer(
        offer_id=offer_id, reason=DECLINE_REASONS[reason], note="simulated courier"
    )
    return Request(client_message_id=message_id, decline_offer=declined)


def confirm(message_id: str, errand: Errand) -> Request:
    """The confirmation of the errand's current leg: the pickup, then the drop-off."""
    if errand.picked_up:
        dropoff = courier_session_pb2.ConfirmDropoff(delivery_id=errand.delivery_id)
        return Request(client_message_id=message_id, confirm_dropoff=dropoff)
    pickup = courier_session_pb2.ConfirmPickup(delivery_id=errand.delivery_id)
    return Request(client_message_id=message_id, confirm_pickup=pickup)


def offered_delivery(offer: offer_pb2.Offer, send_time: Timestamp) -> OfferedDelivery:
    """The offer as the courier sees it; its window is judged by the server's clock."""
    sent = send_time if send_time.ByteSize() else offer.create_time
    window = (offer.expire_time.ToNanoseconds() - sent.ToNanoseconds()) / 1e9
    size = parcel_pb2.ParcelSize.Name(offer.parcel.size).removeprefix(_SIZE_PREFIX).lower()
    pickup = GeoPoint(offer.pickup.point.latitude, offer.pickup.point.longitude)
    return OfferedDelivery(offer.offer_id, offer.delivery_id, pickup, size, window)


def errand(assignment: offer_pb2.Assignment) -> Errand:
    pickup, dropoff = assignment.pickup.point, assignment.dropoff.point
    return Errand(
        offer_id=assignment.offer_id,
        delivery_id=assignment.delivery_id,
        pickup=GeoPoint(pickup.latitude, pickup.longitude),
        dropoff=GeoPoint(dropoff.latitude, dropoff.longitude),
        picked_up=assignment.picked_up,
    )


# Builds an up message around the client_message_id it is given.
RequestBuilder = Callable[[str], Request]
