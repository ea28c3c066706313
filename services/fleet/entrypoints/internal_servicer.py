"""The mesh-only FleetInternalService."""

from __future__ import annotations

from lastmile.fleet.v1 import fleet_internal_pb2, fleet_internal_pb2_grpc
from services.fleet.adapters.fleet_messages import courier_message
from services.fleet.service_layer.queries import CourierQueries
from services.runtime.grpc_types import ServicerContext


class FleetInternalServicer(fleet_internal_pb2_grpc.FleetInternalServiceServicer):
    """A courier's profile and live state, for other services."""

    def __init__(self, queries: CourierQueries) -> None:
        self._queries = queries

    async def GetCourier(
        self, request: fleet_internal_pb2.GetCourierRequest, context: ServicerContext
    ) -> fleet_internal_pb2.GetCourierResponse:
        view = await self._queries.get(request.courier_id)
        return fleet_internal_pb2.GetCourierResponse(courier=courier_message(view))
