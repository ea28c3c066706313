"""lastmile.fleet.v1 enum values <-> dispatch's domain values."""

from __future__ import annotations

from lastmile.fleet.v1 import courier_pb2, offer_pb2
from services.dispatch.domain.couriers import CourierStatus, VehicleType
from services.dispatch.domain.fleet_messages import CancellationReason

STATUSES: dict[int, CourierStatus] = {
    courier_pb2.COURIER_STATUS_OFFLINE: CourierStatus.OFFLINE,
    courier_pb2.COURIER_STATUS_IDLE: CourierStatus.IDLE,
    courier_pb2.COURIER_STATUS_OFFERED: CourierStatus.OFFERED,
    courier_pb2.COURIER_STATUS_ASSIGNED: CourierStatus.ASSIGNED,
    courier_pb2.COURIER_STATUS_DELIVERING: CourierStatus.DELIVERING,
}
STATUS_VALUES: dict[CourierStatus, courier_pb2.CourierStatus.ValueType] = {
    status: courier_pb2.CourierStatus.ValueType(value) for value, status in STATUSES.items()
}
VEHICLES: dict[int, VehicleType] = {
    courier_pb2.VEHICLE_TYPE_BICYCLE: VehicleType.BICYCLE,
    courier_pb2.VEHICLE_TYPE_CARGO_BIKE: VehicleType.CARGO_BIKE,
    courier_pb2.VEHICLE_TYPE_MOTORBIKE: VehicleType.MOTORBIKE,
    courier_pb2.VEHICLE_TYPE_CAR: VehicleType.CAR,
    courier_pb2.VEHICLE_TYPE_VAN: VehicleType.VAN,
}
REASON_VALUES: dict[CancellationReason, offer_pb2.OfferCancellationReason.ValueType] = {
    CancellationReason.DELIVERY_CANCELLED: offer_pb2.OFFER_CANCELLATION_REASON_DELIVERY_CANCELLED,
    CancellationReason.EXPIRED: offer_pb2.OFFER_CANCELLATION_REASON_EXPIRED,
    CancellationReason.NOT_ASSIGNED: offer_pb2.OFFER_CANCELLATION_REASON_NOT_ASSIGNED,
    CancellationReason.WITHDRAWN: offer_pb2.OFFER_CANCELLATION_REASON_WITHDRAWN,
}
