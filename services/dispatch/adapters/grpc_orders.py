"""orders.AssignCourier over gRPC, with a deadline on every call."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc

from lastmile.orders.v1 import orders_internal_pb2, orders_internal_pb2_grpc
from services.contracts import common_v1
from services.dispatch.domain.verdicts import Assigned, NotAssigned
from services.dispatch.service_layer.ports import AssignmentNotSettled, Orders
from services.runtime.status import domain_error_from

ASSIGN_COURIER = "/lastmile.orders.v1.OrdersInternalService/AssignCourier"
# Idempotent for the same offer: the channel may retry ABORTED as well as UNAVAILABLE.
IDEMPOTENT_METHODS = (ASSIGN_COURIER,)
# orders' final answers; every other code may change on a retry.
_SETTLED = (
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.INVALID_ARGUMENT,
)


class GrpcOrders(Orders):
    """OrdersInternalService.AssignCourier."""

    def __init__(self, channel: grpc.aio.Channel, *, deadline_seconds: float) -> None:
        self._orders = orders_internal_pb2_grpc.OrdersInternalServiceStub(channel)
        self._deadline = deadline_seconds

    async def assign_courier(
        self, delivery_id: str, courier_id: str, offer_id: str
    ) -> Assigned | NotAssigned:
        request = orders_internal_pb2.AssignCourierRequest(
            delivery_id=delivery_id, courier_id=courier_id, offer_id=offer_id
        )
        try:
            reply = await self._orders.AssignCourier(request, timeout=self._deadline)
        except grpc.aio.AioRpcError as failure:
            if failure.code() not in _SETTLED:
                raise AssignmentNotSettled(
                    f"orders did not decide: {failure.code().name}"
                ) from None
            error = domain_error_from(failure)
            state = error.metadata.get("current_state", "") if error is not None else ""
            return NotAssigned(state or failure.code().name)
        delivery = reply.delivery
        if delivery.HasField("assign_time"):
            return Assigned(common_v1.read_timestamp(delivery.assign_time))
        return Assigned(datetime.now(UTC))
