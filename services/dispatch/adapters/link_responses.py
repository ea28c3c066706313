"""What dispatch tells fleet -> LinkResponse."""

from __future__ import annotations

from dataclasses import replace

from lastmile.common.v1 import stop_pb2
from lastmile.dispatch.v1 import dispatch_internal_pb2
from lastmile.fleet.v1 import offer_pb2
from services.contracts import common_v1
from services.dispatch.adapters.fleet_values import REASON_VALUES
from services.dispatch.domain.fleet_messages import (
    AssignmentToCourier,
    FleetMessage,
    OfferToCourier,
    OfferWithdrawal,
)
from services.shared_kernel.stop import Stop


def link_response(message: FleetMessage) -> dispatch_internal_pb2.LinkResponse:
    match message:
        case OfferToCourier(offer=offer, delivery=delivery, trace_context=trace_context):
            return dispatch_internal_pb2.LinkResponse(
                offer=dispatch_internal_pb2.CourierOffer(
                    courier_id=offer.courier_id,
                    trace_context=trace_context,
                    offer=offer_pb2.Offer(
                        offer_id=offer.offer_id,
                        delivery_id=offer.delivery_id,
                        pickup=_without_contact(delivery.pickup),
                        dropoff=_without_contact(delivery.dropoff),
                        parcel=common_v1.parcel_message(delivery.parcel),
                        service_level=common_v1.service_level_value(delivery.service_level),
                        payout=common_v1.money_message(offer.payout),
                        pickup_distance_meters=offer.pickup_distance_meters,
                        delivery_distance_meters=offer.delivery_distance_meters,
                        create_time=common_v1.timestamp_message(offer.created_at),
                        expire_time=common_v1.timestamp_message(offer.expires_at),
                    ),
                )
            )
        case OfferWithdrawal():
            return dispatch_internal_pb2.LinkResponse(
                offer_cancellation=dispatch_internal_pb2.CourierOfferCancellation(
                    courier_id=message.courier_id,
                    cancellation=offer_pb2.OfferCancellation(
                        offer_id=message.offer_id,
                        delivery_id=message.delivery_id,
                        reason=REASON_VALUES[message.reason],
                        detail=message.detail,
                    ),
                )
            )
        case AssignmentToCourier(offer=offer, delivery=delivery, assigned_at=assigned_at):
            return dispatch_internal_pb2.LinkResponse(
                assignment=dispatch_internal_pb2.CourierAssignment(
                    courier_id=offer.courier_id,
                    assignment=offer_pb2.Assignment(
                        offer_id=offer.offer_id,
                        delivery_id=offer.delivery_id,
                        pickup=common_v1.stop_message(delivery.pickup),
                        dropoff=common_v1.stop_message(delivery.dropoff),
                        parcel=common_v1.parcel_message(delivery.parcel),
                        payout=common_v1.money_message(offer.payout),
                        picked_up=False,
                        assign_time=common_v1.timestamp_message(assigned_at),
                    ),
                )
            )
    raise TypeError(f"no LinkResponse for {type(message).__name__}")


def _without_contact(stop: Stop) -> stop_pb2.Stop:
    # Couriers see contact details only once the delivery is assigned to them.
    return common_v1.stop_message(replace(stop, contact=None))
