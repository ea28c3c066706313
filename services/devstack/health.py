"""The health gates of the local mesh: a component counts as started only once it answers its
health check (gRPC health for the services, an HTTP readiness URL for the Envoys); a process
that exits while starting fails the start with the tail of its log."""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.devstack.components import ServiceSpec
from services.devstack.errors import ServerStartError
from services.devstack.process import SupervisedProcess


async def wait_until_serving(
    spec: ServiceSpec,
    address: str,
    process: SupervisedProcess,
    limit: float = 60,
    *,
    service: str | None = None,
) -> None:
    """Poll the gRPC health service at `address` until SERVING for `service` (default: the
    spec's health service); fail with the log tail if the process exits."""
    service = spec.health_service if service is None else service
    give_up = time.monotonic() + limit
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            if not process.running:
                raise ServerStartError(
                    f"{spec.name} exited with code {process.exit_code} while starting; "
                    f"last lines of {process.log_path}:\n{process.log_tail()}"
                )
            with contextlib.suppress(grpc.aio.AioRpcError):
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            if time.monotonic() > give_up:
                raise ServerStartError(
                    f"{spec.name} did not report SERVING ({service or 'the server'}) within "
                    f"{limit:.0f}s; last lines of {process.log_path}:\n{process.log_tail()}"
                )
            await asyncio.sleep(0.2)


async def wait_until_ready(
    name: str, url: str, process: SupervisedProcess, limit: float = 30
) -> None:
    """Poll an HTTP readiness URL until 200; fail with the log tail if the process exits."""
    give_up = time.monotonic() + limit
    while True:
        if not process.running:
            raise ServerStartError(
                f"{name} exited with code {process.exit_code} while starting; "
                f"last lines of {process.log_path}:\n{process.log_tail()}"
            )
        with contextlib.suppress(OSError):
            status = await asyncio.to_thread(_http_status, url)
            if status == 200:
                return
        if time.monotonic() > give_up:
            raise ServerStartError(
                f"{name} was not ready within {limit:.0f}s; last lines of "
                f"{process.log_path}:\n{process.log_tail()}"
            )
        await asyncio.sleep(0.2)


def _http_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=2) as response:
        status: int = response.status
        return status
