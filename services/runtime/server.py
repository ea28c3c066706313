"""Server bootstrap: a grpc.aio server with the runtime's interceptors, the standard
health service (following the service's dependencies, see `readiness`), reflection, a
metrics endpoint and graceful shutdown on SIGTERM/SIGINT.

Shutdown never drops in-flight work: health turns NOT_SERVING, new calls are refused
after `drain_delay`, streams are told to reconnect (through `Drain`), and calls
still running get `shutdown_grace` seconds before they are cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from services.runtime import logs, metrics, tracing, validation
from services.runtime.config import ServiceSettings
from services.runtime.dependency_monitor import DependencyMonitor
from services.runtime.draining import Drain
from services.runtime.grpc_types import ServerInterceptor
from services.runtime.interceptors.auth_context import AuthContext
from services.runtime.interceptors.base import CallPipeline
from services.runtime.interceptors.error_mapping import ErrorMapping
from services.runtime.interceptors.metrics import CallMetrics
from services.runtime.interceptors.request_context import RequestContext
from services.runtime.interceptors.server_spans import ServerSpans
from services.runtime.readiness import Readiness

log = logging.getLogger("lastmile.server")

# Server keepalive: probe idle clients every 60 s so that dead stream peers are reaped,
# and accept client pings no more often than every 20 s (clients here ping every 30 s).
SERVER_KEEPALIVE_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    # GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS; its string has no "recv" in it. Under
    # the misspelt key grpc kept its 5-minute default, struck every 30 s client ping and
    # cut idle connections (the fleet↔dispatch Link every ~2 min) with too_many_pings.
    ("grpc.http2.min_ping_interval_without_data_ms", 20_000),
    ("grpc.http2.max_ping_strikes", 2),
)


@dataclass(frozen=True)
class ServiceBinding:
    """A servicer, its full proto service name and the generated function that registers it."""

    name: str
    servicer: Any
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    # False for a service that turns SERVING later by itself (dispatch's, once it leads),
    # so that it never reports SERVING for an instant after the port opens.
    serving_at_start: bool = True
    # Methods (bare names) not to trace as calls: streams that live for hours, such as a
    # courier's session. Their span would stay open (and in memory) for the whole stream
    # and parent everything the stream does; the work they carry is traced on its own.
    untraced_methods: frozenset[str] = frozenset()
    # The dependencies (`dependencies.DATABASE`, `BROKER`) without which this service cannot
    # serve; None: every dependency the host monitors.
    needs: frozenset[str] | None = None
    # Streaming methods (bare names) that answer each request message on its own, so an
    # invalid message reaches the handler as a validation.InvalidMessage instead of
    # failing the whole call.
    per_message_methods: frozenset[str] = frozenset()

    def untraced(self) -> set[str]:
        return {f"/{self.name}/{method}" for method in self.untraced_methods}

    def per_message(self) -> set[str]:
        return {f"/{self.name}/{method}" for method in self.per_message_methods}


Hook = Callable[[], Awaitable[None]]


class PortUnavailable(OSError):
    """The gRPC port is taken (or not ours to bind); the message names service and port."""

    def __init__(self, service: str, address: str) -> None:
        super().__init__(
            f"{service}: cannot listen on {address}: the port is in use or not permitted; "
            f"choose another with LASTMILE_{service.upper()}_GRPC_PORT"
        )


def runtime_interceptors(
    settings: ServiceSettings,
    untraced: Collection[str] = (),
    dependencies: DependencyMonitor | None = None,
    per_message: Collection[str] = (),
) -> list[ServerInterceptor]:
    """One pipeline: the server span first, so every log line carries the trace id; then
    request context + access log, metrics, auth context, the contract's request rules, and
    error mapping innermost (which tells `dependencies` of calls that could not reach one)."""
    return [
        CallPipeline(
            observers=[ServerSpans(untraced), RequestContext(), CallMetrics(), AuthContext()],
            errors=ErrorMapping(
                domain=f"{settings.service_name}.lastmile.dev", dependencies=dependencies
            ),
            validation=validation.REQUESTS,
            per_message=per_message,
        ),
    ]


@dataclass
class ServiceHost:
    """Owns one service process's gRPC server, admin endpoint and shutdown sequence."""

    settings: ServiceSettings
    bindings: Sequence[ServiceBinding]
    interceptors: Sequence[ServerInterceptor] | None = None
    # Run in order before the port opens (connect, migrate, start relays), and in
    # reverse order after the server stopped (stop relays, close pools).
    on_start: list[Hook] = field(default_factory=list)
    on_shutdown: list[Hook] = field(default_factory=list)
    # Extra documents on the admin HTTP port, by path (e.g. identity's JWKS).
    admin_documents: dict[str, metrics.AdminDocument] = field(default_factory=dict)
    # What the services need to serve (their database, their broker); health follows it.
    dependencies: DependencyMonitor = field(default_factory=DependencyMonitor)

    drain: Drain = field(default_factory=Drain)
    health: HealthServicer = field(default_factory=HealthServicer, init=False)
    readiness: Readiness = field(init=False)
    port: int = field(default=0, init=False)
    admin_port: int | None = field(default=None, init=False)
    _server: grpc.aio.Server | None = field(default=None, init=False)
    _admin: metrics.AdminServer | None = field(default=None, init=False)
    _stop_requested: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _stopped: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.readiness = Readiness(self.health)

    async def start(self) -> int:
        """Run the start hooks, bind, register everything and start serving; returns the
        bound gRPC port."""
        try:
            return await self._start()
        except BaseException:
            # A half-started host must not leak pools and background tasks.
            await self.dependencies.stop()
            await self._run_shutdown_hooks()
            raise

    async def _start(self) -> int:
        settings = self.settings
        for hook in self.on_start:
            await hook()
        server = grpc.aio.server(
            interceptors=list(
                runtime_interceptors(
                    settings,
                    {m for binding in self.bindings for m in binding.untraced()},
                    self.dependencies,
                    {m for binding in self.bindings for m in binding.per_message()},
                )
                if self.interceptors is None
                else self.interceptors
            ),
            options=(
                *SERVER_KEEPALIVE_OPTIONS,
                ("grpc.max_receive_message_length", settings.max_message_bytes),
                ("grpc.max_send_message_length", settings.max_message_bytes),
                ("grpc.max_concurrent_streams", settings.max_concurrent_streams),
                ("grpc.so_reuseport", 0),
            ),
        )
        for binding in self.bindings:
            binding.add_to_server(binding.servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        names = [binding.name for binding in self.bindings]
        reflection.enable_server_reflection(
            [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
             reflection.SERVICE_NAME],
            server,
        )  # fmt: skip
        address = f"{settings.grpc_host}:{settings.grpc_port}"
        try:
            self.port = server.add_insecure_port(address)
        except RuntimeError as bind_failed:
            raise PortUnavailable(settings.service_name, address) from bind_failed
        await server.start()
        self._server = server
        for binding in self.bindings:
            self.readiness.declare(
                binding.name,
                needs=self.dependencies.names if binding.needs is None else binding.needs,
                ready=binding.serving_at_start,
            )
        await self.readiness.publish()
        self.dependencies.on_change(self.readiness.dependency_changed)
        self.dependencies.start()
        if settings.admin_port >= 0:
            self._admin = metrics.start_admin_server(
                settings.admin_host, settings.admin_port, self.admin_documents
            )
            self.admin_port = self._admin.port
        metrics.SERVER_DRAINING.set(0)
        log.info(
            "serving",
            extra={"grpc_address": f"{settings.grpc_host}:{self.port}",
                   "admin_port": self.admin_port, "services": names},
        )  # fmt: skip
        return self.port

    async def _run_shutdown_hooks(self) -> None:
        for hook in reversed(self.on_shutdown):
            try:
                await hook()
            except Exception:
                log.exception("shutdown hook failed")

    def request_stop(self) -> None:
        """Signal-safe: ask `serve_until_stopped` to begin the shutdown sequence."""
        self._stop_requested.set()

    async def serve_until_stopped(self) -> None:
        """Serve until SIGTERM/SIGINT (or `request_stop`), then shut down gracefully."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop)
        try:
            await self._stop_requested.wait()
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
            await self.stop()

    async def stop(self) -> None:
        """The graceful shutdown sequence; safe to call more than once."""
        if self._stopped or self._server is None:
            return
        self._stopped = True
        settings = self.settings
        log.info("draining", extra={"grace_seconds": settings.shutdown_grace_seconds})
        metrics.SERVER_DRAINING.set(1)
        await self.health.enter_graceful_shutdown()
        await self.dependencies.stop()
        if settings.drain_delay_seconds:
            await asyncio.sleep(settings.drain_delay_seconds)
        self.drain.begin()
        await self._server.stop(settings.shutdown_grace_seconds)
        await self._run_shutdown_hooks()
        # The access lines of the last calls are still buffered; a process that is told
        # to stop (SIGTERM) must not lose them.
        logs.flush_logs()
        if self._admin is not None:
            self._admin.stop()
        tracing.shutdown_tracing()
        log.info("stopped")
