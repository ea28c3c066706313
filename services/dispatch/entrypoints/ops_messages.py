"""The ops views -> lastmile.dispatch.v1 messages."""

from __future__ import annotations

from datetime import datetime

from lastmile.dispatch.v1 import dispatch_pb2
from services.contracts import common_v1
from services.dispatch.adapters.fleet_values import STATUS_VALUES
from services.dispatch.domain.deliveries import PendingDelivery, QueueState
from services.dispatch.domain.statistics import OfferOutcome
from services.dispatch.service_layer.overview import Overview

_QUEUE_STATES = {
    QueueState.WAITING: dispatch_pb2.QUEUE_STATE_WAITING,
    QueueState.OFFERED: dispatch_pb2.QUEUE_STATE_OFFERED,
    QueueState.ASSIGNING: dispatch_pb2.QUEUE_STATE_ASSIGNING,
}


def queued_message(delivery: PendingDelivery, now: datetime) -> dispatch_pb2.QueuedDelivery:
    terms, offer = delivery.terms, delivery.offer
    return dispatch_pb2.QueuedDelivery(
        delivery_id=delivery.delivery_id,
        state=_QUEUE_STATES[delivery.state],
        service_level=common_v1.service_level_value(terms.service_level),
        parcel_size=common_v1.parcel_message(terms.parcel).size,
        pickup_point=common_v1.point_message(terms.pickup.point),
        enqueue_time=common_v1.timestamp_message(delivery.enqueued_at),
        age=common_v1.duration_message(now - delivery.enqueued_at),
        offer_count=delivery.offer_count,
        decline_count=len(delivery.declined_by),
        offer_id=offer.offer_id if offer else "",
        courier_id=offer.courier_id if offer else "",
    )


def overview_message(overview: Overview) -> dispatch_pb2.DispatchOverview:
    now, counts = overview.generated_at, overview.statistics.counts
    message = dispatch_pb2.DispatchOverview(
        generate_time=common_v1.timestamp_message(now),
        matcher_replica_id=overview.matcher_replica_id,
        queue_length=overview.queue_length,
        oldest=[queued_message(delivery, now) for delivery in overview.oldest],
        courier_counts=[
            dispatch_pb2.CourierStatusCount(status=STATUS_VALUES[status], count=count)
            for status, count in overview.courier_counts
        ],
        offer_statistics=dispatch_pb2.OfferStatistics(
            start_time=common_v1.timestamp_message(overview.statistics.started_at),
            **{outcome.value: counts[outcome] for outcome in OfferOutcome},
        ),
    )
    if overview.oldest_age is not None:
        message.oldest_age.CopyFrom(common_v1.duration_message(overview.oldest_age))
    for view in overview.links:
        link = message.fleet_links.add(
            fleet_replica_id=view.session.fleet_replica_id,
            courier_count=view.courier_count,
            connect_time=common_v1.timestamp_message(view.session.connected_at),
            last_message_time=common_v1.timestamp_message(view.session.last_message_at),
        )
        if view.session.snapshot_at is not None:
            link.snapshot_time.CopyFrom(common_v1.timestamp_message(view.session.snapshot_at))
    return message
