"""fleet's side of the Link, in lastmile.dispatch.v1 messages: hello, snapshot chunks,
changes, position batches and offer responses."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from lastmile.dispatch.v1 import dispatch_internal_pb2 as link_pb2
from services.contracts import common_v1
from services.fleet.adapters.fleet_messages import (
    DECLINE_REASON_VALUES,
    courier_message,
    location_fields,
)
from services.fleet.domain.offers import OfferAnswer, OfferOutcome
from services.fleet.domain.values import Fix
from services.fleet.service_layer.ports import CourierView

SNAPSHOT_CHUNK_SIZE = 1000
_OUTCOME_VALUES = {
    OfferOutcome.ACCEPTED: link_pb2.OFFER_OUTCOME_ACCEPTED,
    OfferOutcome.DECLINED: link_pb2.OFFER_OUTCOME_DECLINED,
    OfferOutcome.EXPIRED: link_pb2.OFFER_OUTCOME_EXPIRED,
    OfferOutcome.UNDELIVERABLE: link_pb2.OFFER_OUTCOME_UNDELIVERABLE,
}


def hello(replica_id: str) -> link_pb2.LinkRequest:
    return link_pb2.LinkRequest(hello=link_pb2.LinkHello(fleet_replica_id=replica_id))


def snapshot_chunks(
    snapshot_id: str, views: Sequence[CourierView]
) -> Iterator[link_pb2.LinkRequest]:
    """Chunks of at most SNAPSHOT_CHUNK_SIZE couriers; one empty last chunk if none."""
    starts = range(0, len(views), SNAPSHOT_CHUNK_SIZE) or range(1)
    for start in starts:
        chunk = views[start : start + SNAPSHOT_CHUNK_SIZE]
        yield link_pb2.LinkRequest(
            snapshot=link_pb2.CourierSnapshot(
                snapshot_id=snapshot_id,
                couriers=[courier_message(view) for view in chunk],
                last_chunk=start + SNAPSHOT_CHUNK_SIZE >= len(views),
            )
        )


def courier_changed(view: CourierView) -> link_pb2.LinkRequest:
    return link_pb2.LinkRequest(
        courier_changed=link_pb2.CourierChanged(courier=courier_message(view))
    )


def offer_response(answer: OfferAnswer) -> link_pb2.LinkRequest:
    response = link_pb2.OfferResponse(
        offer_id=answer.offer_id,
        courier_id=answer.courier_id,
        delivery_id=answer.delivery_id,
        outcome=_OUTCOME_VALUES[answer.outcome],
        respond_time=common_v1.timestamp_message(answer.answered_at),
    )
    if answer.decline_reason is not None:
        response.decline_reason = DECLINE_REASON_VALUES[answer.decline_reason]
    return link_pb2.LinkRequest(offer_response=response)


def position_batch(fixes: dict[str, Fix]) -> link_pb2.LinkRequest:
    """One entry per courier, each encoded once, straight into the batch (no Location
    or Timestamp object of its own: see location_fields)."""
    request = link_pb2.LinkRequest()
    request.positions.SetInParent()
    add = request.positions.positions.add
    for courier_id, fix in fixes.items():
        add(courier_id=courier_id, location=location_fields(fix))
    return request
