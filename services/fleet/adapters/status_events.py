"""A courier's change -> the `lastmile.courier.status_changed` envelope (courier_events.proto):
source "fleet", subject the courier id, sequence the courier's version."""

from __future__ import annotations

from lastmile.events.v1 import courier_events_pb2, envelope_pb2
from lastmile.fleet.v1 import courier_pb2
from services.contracts import common_v1
from services.fleet.adapters.fleet_messages import STATUS_VALUES, courier_message
from services.fleet.domain.courier import Change
from services.fleet.service_layer.ports import CourierView
from services.runtime.events.envelope import new_envelope

STATUS_CHANGED = "lastmile.courier.status_changed"
SOURCE = "fleet"


def status_changed_envelope(change: Change, view: CourierView) -> envelope_pb2.EventEnvelope:
    after = change.after
    previous = change.previous_status
    payload = courier_events_pb2.CourierStatusChanged(
        courier=courier_message(view),
        previous_status=(
            STATUS_VALUES[previous]
            if previous is not None
            else courier_pb2.COURIER_STATUS_UNSPECIFIED
        ),
        change_time=common_v1.timestamp_message(after.updated_at),
    )
    return new_envelope(
        event_type=STATUS_CHANGED,
        source=SOURCE,
        subject=after.courier_id,
        payload=payload,
        sequence=after.version,
        time=after.updated_at,
    )
