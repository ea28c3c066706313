"""dispatch's serving status in the standard health service."""

from __future__ import annotations

from collections.abc import Sequence

from grpc_health.v1 import health_pb2
from grpc_health.v1._async import HealthServicer

from services.dispatch.service_layer.ports import ServingStatus


class HealthStatus(ServingStatus):
    """SERVING for dispatch's services only while this replica is the active matcher;
    the process as a whole ("") stays SERVING, for liveness."""

    def __init__(self, health: HealthServicer, services: Sequence[str]) -> None:
        self._health = health
        self._services = tuple(services)

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for service in self._services:
            await self._health.set(service, status)
