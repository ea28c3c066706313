"""The delivery lookup over orders' public GetDelivery, called with the watcher's own
identity so that orders decides who may see the delivery."""

from __future__ import annotations

from datetime import timedelta

import grpc

from lastmile.orders.v1 import orders_pb2, orders_pb2_grpc
from services.contracts import common_v1
from services.runtime.context import Caller
from services.runtime.errors import (
    DomainError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from services.runtime.interceptors.auth_context import ACCOUNT_ID_HEADER, ROLE_HEADER
from services.runtime.status import domain_error_from
from services.tracking.adapters.delivery_status_values import STATUSES_BY_VALUE
from services.tracking.domain.progress import StatusChange
from services.tracking.service_layer.ports import DeliveryLookup, DeliverySighting

GET_DELIVERY = "/lastmile.orders.v1.OrdersService/GetDelivery"
# A read: safe to retry on ABORTED as well as UNAVAILABLE.
IDEMPOTENT_METHODS = (GET_DELIVERY,)
# orders' verdicts about the caller or the request; anything else is orders' trouble.
_PASSED_ON = (NotFound, PermissionDenied, Unauthenticated, InvalidArgument)


class GrpcOrders(DeliveryLookup):
    """OrdersService.GetDelivery, with a deadline on each call."""

    def __init__(self, channel: grpc.aio.Channel, *, deadline_seconds: float) -> None:
        self._orders = orders_pb2_grpc.OrdersServiceStub(channel)
        self._deadline = deadline_seconds

    async def get(self, delivery_id: str, caller: Caller) -> DeliverySighting:
        try:
            reply = await self._orders.GetDelivery(
                orders_pb2.GetDeliveryRequest(delivery_id=delivery_id),
                metadata=((ACCOUNT_ID_HEADER, caller.account_id), (ROLE_HEADER, caller.role.value)),
                timeout=self._deadline,
            )
        except grpc.aio.AioRpcError as failure:
            raise _domain_error(failure) from failure
        delivery = reply.delivery
        state = StatusChange(
            delivery_id=delivery.delivery_id,
            status=STATUSES_BY_VALUE[delivery.status],
            version=delivery.version,
            changed_at=common_v1.read_timestamp(delivery.update_time),
            courier_id=delivery.courier_id,
            cancel_reason=delivery.cancel_reason,
        )
        return DeliverySighting(state, delivery.SerializeToString())


def _domain_error(failure: grpc.aio.AioRpcError) -> DomainError:
    error = domain_error_from(failure)
    if isinstance(error, _PASSED_ON):
        return error
    return Unavailable(
        f"orders did not answer ({failure.code().name}); watch again",
        retry_after=timedelta(seconds=1),
    )
