"""lastmile.fleet.v1 <-> fleet's domain: couriers, locations, offers and assignments.

Readers validate as they translate and record every violation with its request path.
"""

from __future__ import annotations

import math
from typing import Any

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


# The range a google.protobuf.Timestamp may hold: 0001-01-01T00:00:00Z to
# 9999-12-31T23:59:59.999999999Z.
_MIN_SECONDS, _MAX_SECONDS = -62_135_596_800, 253_402_300_799
_NANOS = 1_000_000_000
_INF = math.inf


def read_location(location: courier_pb2.Location, violations: Violations) -> Fix | None:
    """A validated fix; None (with violations recorded) if the location is malformed."""
    fix = location_fix(location)
    if fix is None:
        _check_location(location, violations)
    return fix


def location_fix(location: courier_pb2.Location) -> Fix | None:
    """The fix of a well-formed location; None if anything is missing or out of range.

    The hot path of every ping: plain comparisons, no violation objects and no datetime
    (NaN fails every comparison, so it is refused too). `read_location` names what is
    wrong when this says None.
    """
    if not (location.HasField("point") and location.HasField("recorded_time")):
        return None
    point, recorded = location.point, location.recorded_time
    latitude, longitude = point.latitude, point.longitude
    seconds, nanos = recorded.seconds, recorded.nanos
    accuracy = location.accuracy_meters
    if not (
        -90 <= latitude <= 90
        and -180 <= longitude <= 180
        and 0 <= accuracy < _INF
        and _MIN_SECONDS <= seconds <= _MAX_SECONDS
        and 0 <= nanos < _NANOS
    ):
        return None
    heading = speed = None
    if location.HasField("heading_degrees"):
        heading = location.heading_degrees
        if not 0 <= heading < 360:
            return None
    if location.HasField("speed_meters_per_second"):
        speed = location.speed_meters_per_second
        if not 0 <= speed < _INF:
            return None
    return Fix(latitude, longitude, seconds * _NANOS + nanos, accuracy, heading, speed)


def _check_location(location: courier_pb2.Location, violations: Violations) -> None:
    """Record every violation of a location that `location_fix` refused (it refuses
    exactly what these checks find)."""
    common_v1.read_point(location.point, location.HasField("point"), violations, "point")
    if not location.HasField("recorded_time"):
        violations.add("recorded_time", "is required")
    else:
        recorded = location.recorded_time
        violations.check(
            _MIN_SECONDS <= recorded.seconds <= _MAX_SECONDS and 0 <= recorded.nanos < _NANOS,
            "recorded_time",
            "must be a valid timestamp (0001-01-01 to 9999-12-31, nanos in [0, 1e9))",
        )
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
