"""An in-process stand-in for orders' internal API behind a sidecar: it answers OK, after
failing a scripted number of calls with UNAVAILABLE, and counts every call it receives.
The sidecar is what is under test; this server only shows what reached it."""

from __future__ import annotations

from collections import Counter

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from lastmile.orders.v1 import delivery_pb2, orders_internal_pb2, orders_internal_pb2_grpc
from services.runtime.grpc_types import ServicerContext

INTERNAL_SERVICE = "lastmile.orders.v1.OrdersInternalService"


class ScriptedOrdersInternal(orders_internal_pb2_grpc.OrdersInternalServiceServicer):
    """Counts calls per method; `failures[method]` calls fail with UNAVAILABLE first."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()

    async def _answer(self, method: str, context: ServicerContext) -> delivery_pb2.Delivery:
        self.calls[method] += 1
        if self.failures[method] > 0:
            self.failures[method] -= 1
            await context.abort(grpc.StatusCode.UNAVAILABLE, "scripted failure")
        return delivery_pb2.Delivery(delivery_id="d-1")

    async def AssignCourier(
        self,
        request: orders_internal_pb2.AssignCourierRequest,
        context: ServicerContext,
    ) -> orders_internal_pb2.AssignCourierResponse:
        delivery = await self._answer("AssignCourier", context)
        return orders_internal_pb2.AssignCourierResponse(delivery=delivery)

    async def MarkPickedUp(
        self,
        request: orders_internal_pb2.MarkPickedUpRequest,
        context: ServicerContext,
    ) -> orders_internal_pb2.MarkPickedUpResponse:
        delivery = await self._answer("MarkPickedUp", context)
        return orders_internal_pb2.MarkPickedUpResponse(delivery=delivery)

    async def MarkDelivered(
        self,
        request: orders_internal_pb2.MarkDeliveredRequest,
        context: ServicerContext,
    ) -> orders_internal_pb2.MarkDeliveredResponse:
        delivery = await self._answer("MarkDelivered", context)
        return orders_internal_pb2.MarkDeliveredResponse(delivery=delivery)


async def start_scripted_orders(servicer: ScriptedOrdersInternal) -> tuple[grpc.aio.Server, int]:
    """The started server and its loopback port; it reports SERVING for the internal service,
    which the callers' sidecars health-check."""
    server = grpc.aio.server()
    orders_internal_pb2_grpc.add_OrdersInternalServiceServicer_to_server(servicer, server)
    status = HealthServicer()
    await status.set(INTERNAL_SERVICE, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(status, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port
