"""The session's outgoing messages -> ConnectResponse, stamped with the server's time.

Acks of pings are most of what a session writes: each is built field by field into one
message, with its send_time from integer nanoseconds (no datetime, no Timestamp of its
own to copy in). Offers and assignments are parsed from the bytes fleet holds straight
into the response."""

from __future__ import annotations

from datetime import timedelta

from lastmile.fleet.v1 import courier_session_pb2 as session_pb2
from lastmile.fleet.v1 import offer_pb2
from services.contracts import common_v1
from services.fleet.adapters.fleet_messages import (
    STATUS_VALUES,
    VEHICLE_VALUES,
    WITHDRAWAL_REASON_VALUES,
    fill_assignment,
    fill_offer,
)
from services.fleet.domain.values import CourierStatus
from services.fleet.service_layer.session_messages import (
    Acked,
    AssignmentShown,
    OfferShown,
    OfferWithdrawn,
    Outgoing,
    Rejected,
    SessionClosing,
    SessionStarted,
)
from services.runtime.status import to_rpc_status

_NANOS = 1_000_000_000


def response_message(
    message: Outgoing, sent_ns: int, *, error_domain: str
) -> session_pb2.ConnectResponse:
    """`message` as sent at `sent_ns` (nanoseconds since the Unix epoch)."""
    response = session_pb2.ConnectResponse()
    sent = response.send_time
    sent.seconds, sent.nanos = divmod(sent_ns, _NANOS)
    match message:
        case Acked(client_message_id=message_id):
            response.ack.client_message_id = message_id
        case Rejected(client_message_id=message_id, error=error):
            response.error.client_message_id = message_id
            response.error.status.CopyFrom(to_rpc_status(error, domain=error_domain))
        case OfferShown(offer=offer):
            fill_offer(response.offer, offer)
        case OfferWithdrawn(withdrawal=withdrawal):
            response.offer_cancellation.CopyFrom(
                offer_pb2.OfferCancellation(
                    offer_id=withdrawal.offer_id,
                    delivery_id=withdrawal.delivery_id,
                    reason=WITHDRAWAL_REASON_VALUES[withdrawal.reason],
                    detail=withdrawal.detail,
                )
            )
        case AssignmentShown(delivery=delivery):
            fill_assignment(response.assignment, delivery)
        case SessionStarted():
            response.session_started.CopyFrom(_session_started(message))
        case SessionClosing(reason=reason, reconnect_after_seconds=after):
            closing = response.session_closing
            closing.reason = session_pb2.SessionClosingReason.Value(
                f"SESSION_CLOSING_REASON_{reason.value}"
            )
            if after is not None:
                closing.reconnect_after.CopyFrom(
                    common_v1.duration_message(timedelta(seconds=after))
                )
    return response


def _session_started(started: SessionStarted) -> session_pb2.SessionStarted:
    courier = started.courier
    message = session_pb2.SessionStarted(
        session_id=started.session_id,
        heartbeat_interval=common_v1.duration_message(
            timedelta(seconds=started.heartbeat_interval_seconds)
        ),
        heartbeat_timeout=common_v1.duration_message(
            timedelta(seconds=started.heartbeat_timeout_seconds)
        ),
        resumed=started.resumed,
        status=STATUS_VALUES[courier.status],
    )
    if courier.vehicle is not None and courier.status is not CourierStatus.OFFLINE:
        message.vehicle_type = VEHICLE_VALUES[courier.vehicle]
    if courier.offer is not None:
        fill_offer(message.offer, courier.offer)
    if courier.delivery is not None:
        fill_assignment(message.assignment, courier.delivery)
    return message
