"""tracking's watch updates -> lastmile.tracking.v1 messages."""

from __future__ import annotations

from datetime import datetime

from lastmile.common.v1 import geo_pb2
from lastmile.fleet.v1 import courier_pb2
from lastmile.orders.v1 import delivery_pb2
from lastmile.tracking.v1 import tracking_pb2
from services.contracts import common_v1
from services.tracking.adapters.delivery_status_values import STATUS_VALUES
from services.tracking.domain.progress import CourierFix, StatusChange
from services.tracking.service_layer.watch import Heartbeat, Snapshot, WatchUpdate


def watch_message(update: WatchUpdate, sent_at: datetime) -> tracking_pb2.WatchDeliveryResponse:
    message = tracking_pb2.WatchDeliveryResponse(send_time=common_v1.timestamp_message(sent_at))
    match update:
        case Snapshot(record=record, courier_fix=fix):
            message.snapshot.delivery.CopyFrom(delivery_pb2.Delivery.FromString(record))
            if fix is not None:
                message.snapshot.courier_position.CopyFrom(position_message(fix))
        case StatusChange():
            message.status_change.CopyFrom(status_change_message(update))
        case CourierFix():
            message.courier_position.CopyFrom(position_message(update))
        case Heartbeat():
            message.heartbeat.SetInParent()
    return message


def status_change_message(change: StatusChange) -> tracking_pb2.DeliveryStatusChange:
    return tracking_pb2.DeliveryStatusChange(
        delivery_id=change.delivery_id,
        status=STATUS_VALUES[change.status],
        version=change.version,
        change_time=common_v1.timestamp_message(change.changed_at),
        courier_id=change.courier_id,
        cancel_reason=change.cancel_reason,
    )


def position_message(fix: CourierFix) -> courier_pb2.CourierPosition:
    return courier_pb2.CourierPosition(
        courier_id=fix.courier_id,
        location=courier_pb2.Location(
            point=geo_pb2.GeoPoint(latitude=fix.latitude, longitude=fix.longitude),
            accuracy_meters=fix.accuracy_meters,
            heading_degrees=fix.heading_degrees,
            speed_meters_per_second=fix.speed_meters_per_second,
            recorded_time=common_v1.timestamp_message(fix.recorded_at),
        ),
    )
