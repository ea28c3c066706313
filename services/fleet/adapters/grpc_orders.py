"""orders' courier transitions over OrdersInternalService, each call with a deadline.
Both are idempotent by design, so the channel's retry policy may repeat them on
UNAVAILABLE or ABORTED; what still fails is turned back into the domain error the
session reports (FAILED_PRECONDITION, ABORTED, NOT_FOUND, else UNAVAILABLE)."""

from __future__ import annotations

from datetime import timedelta

import grpc

from lastmile.orders.v1 import orders_internal_pb2, orders_internal_pb2_grpc
from services.fleet.service_layer.ports import Orders
from services.runtime.errors import Conflict, DomainError, FailedPrecondition, NotFound, Unavailable
from services.runtime.status import domain_error_from

MARK_PICKED_UP = "/lastmile.orders.v1.OrdersInternalService/MarkPickedUp"
MARK_DELIVERED = "/lastmile.orders.v1.OrdersInternalService/MarkDelivered"
IDEMPOTENT_METHODS = (MARK_PICKED_UP, MARK_DELIVERED)
_PASSED_ON = (FailedPrecondition, Conflict, NotFound)


class GrpcOrders(Orders):
    """MarkPickedUp and MarkDelivered on OrdersInternalService."""

    def __init__(self, channel: grpc.aio.Channel, *, deadline_seconds: float) -> None:
        self._orders = orders_internal_pb2_grpc.OrdersInternalServiceStub(channel)
        self._deadline = deadline_seconds

    async def mark_picked_up(self, delivery_id: str, courier_id: str, offer_id: str) -> None:
        request = orders_internal_pb2.MarkPickedUpRequest(
            delivery_id=delivery_id, courier_id=courier_id, offer_id=offer_id
        )
        try:
            await self._orders.MarkPickedUp(request, timeout=self._deadline)
        except grpc.aio.AioRpcError as failure:
            raise _domain_error(failure) from failure

    async def mark_delivered(self, delivery_id: str, courier_id: str, offer_id: str) -> None:
        request = orders_internal_pb2.MarkDeliveredRequest(
            delivery_id=delivery_id, courier_id=courier_id, offer_id=offer_id
        )
        try:
            await self._orders.MarkDelivered(request, timeout=self._deadline)
        except grpc.aio.AioRpcError as failure:
            raise _domain_error(failure) from failure


def _domain_error(failure: grpc.aio.AioRpcError) -> DomainError:
    error = domain_error_from(failure)
    if isinstance(error, _PASSED_ON):
        return error
    return Unavailable(
        f"orders did not answer ({failure.code().name}); re-send with the same id",
        retry_after=timedelta(seconds=1),
    )
