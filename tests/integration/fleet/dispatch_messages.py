"""What a dispatch sends over the Link, built for tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from lastmile.dispatch.v1 import dispatch_internal_pb2 as link_pb2
from lastmile.fleet.v1 import offer_pb2
from services.contracts import common_v1
from tests.orders_examples import delivery


def offer(courier_id: str, delivery_id: str, *, expires_in: float = 60) -> link_pb2.LinkResponse:
    example = delivery()
    now = datetime.now(UTC)
    return link_pb2.LinkResponse(
        offer=link_pb2.CourierOffer(
            courier_id=courier_id,
            offer=offer_pb2.Offer(
                offer_id=str(uuid.uuid4()),
                delivery_id=delivery_id,
                pickup=example.pickup,
                dropoff=example.dropoff,
                parcel=example.parcel,
                create_time=common_v1.timestamp_message(now),
                expire_time=common_v1.timestamp_message(now + timedelta(seconds=expires_in)),
            ),
        )
    )


def assignment(sent_offer: link_pb2.LinkResponse) -> link_pb2.LinkResponse:
    offered = sent_offer.offer.offer
    return link_pb2.LinkResponse(
        assignment=link_pb2.CourierAssignment(
            courier_id=sent_offer.offer.courier_id,
            assignment=offer_pb2.Assignment(
                offer_id=offered.offer_id,
                delivery_id=offered.delivery_id,
                pickup=offered.pickup,
                dropoff=offered.dropoff,
                parcel=offered.parcel,
                assign_time=common_v1.timestamp_message(datetime.now(UTC)),
            ),
        )
    )


def cancellation(
    sent_offer: link_pb2.LinkResponse, reason: offer_pb2.OfferCancellationReason.ValueType
) -> link_pb2.LinkResponse:
    offered = sent_offer.offer.offer
    return link_pb2.LinkResponse(
        offer_cancellation=link_pb2.CourierOfferCancellation(
            courier_id=sent_offer.offer.courier_id,
            cancellation=offer_pb2.OfferCancellation(
                offer_id=offered.offer_id, delivery_id=offered.delivery_id, reason=reason
            ),
        )
    )
