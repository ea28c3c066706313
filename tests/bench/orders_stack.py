"""orders as production runs it, for benchmarks: an embedded PostgreSQL and a NATS
JetStream (as the integration fixtures start them), pricing and orders as processes."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from services.devstack import LocalNats, LocalPostgres
from tests.bench.benchmark import LoadShape
from tests.bench.pricing_calls import reports_serving
from tests.bench.server_process import running_server
from tests.servers import free_port


@dataclass(frozen=True)
class OrdersStack:
    """Where the running stack listens, and where orders writes its log."""

    orders_port: int
    orders_admin_port: int
    database_url: str
    orders_log: Path
    pricing_port: int
    # The process of each service by name, to read its CPU time.
    pids: dict[str, int]


def _service(name: str, settings: dict[str, str]) -> list[str]:
    # `env` execs the interpreter, so the pid that running_server signals is the service.
    variables = [f"LASTMILE_{name.upper()}_{key}={value}" for key, value in settings.items()]
    return ["env", *variables, sys.executable, "-m", f"services.{name}"]


@asynccontextmanager
async def orders_stack(work: Path, shape: LoadShape) -> AsyncIterator[OrdersStack]:
    """Everything started in dependency order, and stopped in reverse."""
    postgres = LocalPostgres(work / "postgres", free_port())
    nats = LocalNats(work / "nats", free_port(), free_port())
    try:
        await postgres.start()
        await nats.start()
        await postgres.ensure_database("orders")
        pricing_port, orders_port, admin_port = free_port(), free_port(), free_port()
        orders_settings = {
            "GRPC_PORT": str(orders_port),
            "ADMIN_PORT": str(admin_port),
            "DATABASE_URL": postgres.dsn("orders"),
            "NATS_URL": nats.url,
            "PRICING_TARGET": f"127.0.0.1:{pricing_port}",
        }
        with ExitStack() as servers:
            pricing = servers.enter_context(
                running_server(
                    _service("pricing", {"GRPC_PORT": str(pricing_port), "ADMIN_PORT": "-1"}),
                    port=pricing_port,
                    log=work / "pricing.log",
                    is_ready=reports_serving,
                )
            )
            orders = servers.enter_context(
                running_server(
                    _service("orders", orders_settings),
                    port=orders_port,
                    log=work / "orders.log",
                    is_ready=reports_serving,
                    cpus=shape.server_cpus,
                )
            )
            yield OrdersStack(
                orders_port,
                admin_port,
                postgres.dsn("orders"),
                work / "orders.log",
                pricing_port,
                {"orders": orders.process.pid, "pricing": pricing.process.pid},
            )
    finally:
        await nats.stop()
        await postgres.stop()
