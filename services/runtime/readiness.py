"""The statuses a server reports in the standard health service, and the one owner that
writes them.

- A proto service is SERVING while its own condition holds (a dispatch standby does not
  lead) and every dependency it needs can be reached.
- The server as a whole ("") is SERVING while every dependency can be reached: readiness.
- `LIVENESS` is SERVING for as long as the process serves at all, whatever its
  dependencies: a pod whose database is down must be taken out of rotation, not restarted.
- Draining wins over all of them: once shutdown begins the health servicer reports
  NOT_SERVING for every name and ignores every later change.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from grpc_health.v1 import health_pb2
from grpc_health.v1._async import HealthServicer

# The health service name for liveness probes (kubelet's gRPC liveness probe sets it).
LIVENESS = "liveness"
OVERALL = ""

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class _Service:
    needs: frozenset[str]
    ready: bool


class Readiness:
    """Combines each proto service's own condition with the state of its dependencies."""

    def __init__(self, health: HealthServicer) -> None:
        self._health = health
        self._services: dict[str, _Service] = {}
        self._down: set[str] = set()

    def declare(self, service: str, *, needs: Collection[str], ready: bool) -> None:
        """`service` needs the dependencies `needs`; `ready` is its own condition at start."""
        self._services[service] = _Service(frozenset(needs), ready)

    async def publish(self) -> None:
        """Write every status; the server calls this once its port is open."""
        for name in self._services:
            await self._write(name)
        await self._health.set(OVERALL, _NOT_SERVING if self._down else _SERVING)
        await self._health.set(LIVENESS, _SERVING)

    async def set_ready(self, service: str, ready: bool) -> None:
        """The service's own condition changed (dispatch: it leads, or no longer)."""
        self._services[service].ready = ready
        await self._write(service)

    async def dependency_changed(self, dependency: str, up: bool) -> None:
        if up:
            self._down.discard(dependency)
        else:
            self._down.add(dependency)
        await self.publish()

    def is_serving(self, service: str) -> bool:
        entry = self._services[service]
        return entry.ready and not entry.needs & self._down

    async def _write(self, service: str) -> None:
        await self._health.set(service, _SERVING if self.is_serving(service) else _NOT_SERVING)
