"""dispatch's serving status in the standard health service."""

from __future__ import annotations

from collections.abc import Sequence

from services.dispatch.service_layer.ports import ServingStatus
from services.runtime.readiness import Readiness


class HealthStatus(ServingStatus):
    """dispatch's services are ready only while this replica is the active matcher; the
    runtime's readiness also holds them NOT_SERVING while the database is unreachable and
    once draining began. The process as a whole ("") follows only its dependencies, and
    liveness neither."""

    def __init__(self, readiness: Readiness, services: Sequence[str]) -> None:
        self._readiness = readiness
        self._services = tuple(services)

    async def set_serving(self, serving: bool) -> None:
        for service in self._services:
            await self._readiness.set_ready(service, serving)
