"""lastmile.fleet.v1 <-> fleet's domain: couriers, locations, offers and assignments.

Readers validate as they translate and record every violation with its request path.
"""

from __future__ import annotations

import math
from datetime import UTC

from lastmile.fleet.v1 import courier_pb2, offer_pb2
from services.contracts import common_v1
from services.fleet.domain.offers import DeclineReason, WithdrawalReason
from services.fleet.domain.values import CourierStatus, Fix, HeldDelivery, HeldOffer, VehicleType
from services.fleet.service_layer.ports import CourierView
from services.runtime.errors import Violations

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


def read_location(location: courier_pb2.Location, violations: Violations) -> Fix | None:
    """A validated fix; None (with violations recorded) if the location is malformed."""
    before = len(violations.found)
    point = common_v1.read_point(location.point, location.HasField("point"), violations, "point")
    violations.check(location.HasField("recorded_time"), "recorded_time", "is required")
    accuracy = location.accuracy_meters
    violations.check(
        math.isfinite(accuracy) and accuracy >= 0, "accuracy_meters", "must be at least 0"
    )
    heading = location.heading_degrees if location.HasField("heading_degrees") else None
    violations.check(
        heading is None or 0 <= heading < 360, "heading_degrees", "must be in [0, 360)"
    )
    speed = (
        location.speed_meters_per_second if location.HasField("speed_meters_per_second") else None
    )
    violations.check(
        speed is None or (math.isfinite(speed) and speed >= 0),
        "speed_meters_per_second",
        "must be at least 0",
    )
    if point is None or len(violations.found) > before:
        return None
    return Fix(
        point.latitude,
        point.longitude,
        location.recorded_time.ToDatetime(tzinfo=UTC),
        accuracy,
        heading,
        speed,
    )


def location_message(fix: Fix) -> courier_pb2.Location:
    location = courier_pb2.Location(
        accuracy_meters=fix.accuracy_meters,
        recorded_time=common_v1.timestamp_message(fix.recorded_at),
    )
    location.point.latitude, location.point.longitude = fix.latitude, fix.longitude
    if fix.heading_degrees is not None:
        location.heading_degrees = fix.heading_degrees
    if fix.speed_meters_per_second is not None:
        location.speed_meters_per_second = fix.speed_meters_per_second
    return location


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


def offer_message(offer: HeldOffer) -> offer_pb2.Offer:
    return offer_pb2.Offer.FromString(offer.details)


def assignment_message(delivery: HeldDelivery) -> offer_pb2.Assignment:
    message = offer_pb2.Assignment.FromString(delivery.details)
    message.picked_up = delivery.picked_up
    return message


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
