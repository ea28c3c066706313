"""lastmile.fleet.v1 <-> fleet's domain: couriers, locations, offers and assignments.

Readers only translate: the request rules are the contract's `buf.validate`
annotations, checked by the runtime before a message reaches fleet.
"""

from __future__ import annotations

from typing import Any

from lastmile.fleet.v1 import courier_pb2, offer_pb2
from services.contracts import common_v1
from services.fleet.domain.offers import DeclineReason, WithdrawalReason
from services.fleet.domain.values import CourierStatus, Fix, HeldDelivery, HeldOffer, VehicleType
from services.fleet.service_layer.ports import CourierView

STATUS_VALUES = {
    CourierStatus.OFFLINE: courier_pb2.COURIER_STATUS_OFFLINE,
    CourierStatus.IDLE: courier_pb2.COURIER_STATUS_IDLE,
    CourierStatus.OFFERED: courier_pb2.COURIER_STATUS_OFFERED,
    CourierStatus.ASSIGNED: courier_pb2.COURIER_STATUS_ASSIGNED,
    CourierStatus.DELIVERING: courier_pb2.COURIER_STATUS_DELIVERING,
}
VEHICLE_VALUES = {
    VehicleType.BICYCLE: courier_pb2.VEHICLE_TYPE_BICYCLE,
    VehicleType.CARGO_BIKE: courier_pb2.VEHICLE_TYPE_CARGO_BIKE,
    VehicleType.MOTORBIKE: courier_pb2.VEHICLE_TYPE_MOTORBIKE,
    VehicleType.CAR: courier_pb2.VEHICLE_TYPE_CAR,
    VehicleType.VAN: courier_pb2.VEHICLE_TYPE_VAN,
}
VEHICLES_BY_VALUE = {value: vehicle for vehicle, value in VEHICLE_VALUES.items()}
DECLINE_REASONS_BY_VALUE = {
    offer_pb2.DECLINE_REASON_TOO_FAR: DeclineReason.TOO_FAR,
    offer_pb2.DECLINE_REASON_PARCEL_UNSUITABLE: DeclineReason.PARCEL_UNSUITABLE,
    offer_pb2.DECLINE_REASON_PAYOUT_TOO_LOW: DeclineReason.PAYOUT_TOO_LOW,
    offer_pb2.DECLINE_REASON_UNAVAILABLE: DeclineReason.UNAVAILABLE,
    offer_pb2.DECLINE_REASON_OTHER: DeclineReason.OTHER,
}
DECLINE_REASON_VALUES = {reason: value for value, reason in DECLINE_REASONS_BY_VALUE.items()}
WITHDRAWAL_REASON_VALUES = {
    WithdrawalReason.DELIVERY_CANCELLED: offer_pb2.OFFER_CANCELLATION_REASON_DELIVERY_CANCELLED,
    WithdrawalReason.EXPIRED: offer_pb2.OFFER_CANCELLATION_REASON_EXPIRED,
    WithdrawalReason.NOT_ASSIGNED: offer_pb2.OFFER_CANCELLATION_REASON_NOT_ASSIGNED,
    WithdrawalReason.WITHDRAWN: offer_pb2.OFFER_CANCELLATION_REASON_WITHDRAWN,
}
WITHDRAWAL_REASONS_BY_VALUE = {value: reason for reason, value in WITHDRAWAL_REASON_VALUES.items()}


_NANOS = 1_000_000_000


def location_fix(location: courier_pb2.Location) -> Fix:
    """The fix of a location the runtime has checked against the contract's rules.

    The hot path of every ping: plain attribute reads, no datetime.
    """
    point, recorded = location.point, location.recorded_time
    heading = location.heading_degrees if location.HasField("heading_degrees") else None
    speed = (
        location.speed_meters_per_second if location.HasField("speed_meters_per_second") else None
    )
    return Fix(
        point.latitude,
        point.longitude,
        recorded.seconds * _NANOS + recorded.nanos,
        location.accuracy_meters,
        heading,
        speed,
    )


def location_fields(fix: Fix) -> dict[str, Any]:
    """`fix` as the keyword arguments of a courier_pb2.Location: nested dicts, which
    protobuf turns into the message in one call, without a Python object per
    sub-message (several times cheaper than building Location, GeoPoint and Timestamp
    one by one)."""
    seconds, nanos = divmod(fix.recorded_ns, _NANOS)
    fields: dict[str, Any] = {
        "point": {"latitude": fix.latitude, "longitude": fix.longitude},
        "accuracy_meters": fix.accuracy_meters,
        "recorded_time": {"seconds": seconds, "nanos": nanos},
    }
    if fix.heading_degrees is not None:
        fields["heading_degrees"] = fix.heading_degrees
    if fix.speed_meters_per_second is not None:
        fields["speed_meters_per_second"] = fix.speed_meters_per_second
    return fields


def location_message(fix: Fix) -> courier_pb2.Location:
    return courier_pb2.Location(**location_fields(fix))


def courier_message(view: CourierView) -> courier_pb2.Courier:
    courier = view.courier
    message = courier_pb2.Courier(
        courier_id=courier.courier_id,
        status=STATUS_VALUES[courier.status],
        connected=courier.connected,
        session_id=courier.session_id,
        offer_id=courier.offer.offer_id if courier.offer is not None else "",
        delivery_id=courier.delivery.delivery_id if courier.delivery is not None else "",
        version=courier.version,
        create_time=common_v1.timestamp_message(courier.created_at),
        update_time=common_v1.timestamp_message(courier.updated_at),
    )
    if courier.vehicle is not None:
        message.vehicle_type = VEHICLE_VALUES[courier.vehicle]
    if view.last_fix is not None:
        message.last_location.CopyFrom(location_message(view.last_fix))
    if view.last_seen is not None:
        message.last_seen_time.CopyFrom(common_v1.timestamp_message(view.last_seen))
    return message


def fill_offer(message: offer_pb2.Offer, offer: HeldOffer) -> None:
    """`offer` parsed into `message` (an empty field of the response that carries it),
    without an Offer of its own to copy in."""
    message.SetInParent()
    message.MergeFromString(offer.details)


def fill_assignment(message: offer_pb2.Assignment, delivery: HeldDelivery) -> None:
    """`delivery` parsed into `message` (an empty field), as fill_offer."""
    message.SetInParent()
    message.MergeFromString(delivery.details)
    message.picked_up = delivery.picked_up


def read_offer(offer: offer_pb2.Offer) -> HeldOffer:
    return HeldOffer(
        offer.offer_id,
        offer.delivery_id,
        common_v1.read_timestamp(offer.expire_time),
        offer.SerializeToString(),
    )


def read_assignment(assignment: offer_pb2.Assignment) -> HeldDelivery:
    return HeldDelivery(
        assignment.offer_id,
        assignment.delivery_id,
        common_v1.read_timestamp(assignment.assign_time),
        assignment.SerializeToString(),
        picked_up=assignment.picked_up,
    )
