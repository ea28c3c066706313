"""orders as a real process: `migrate` applies the schema, the service serves with its
relay running, and SIGTERM drains and exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import grpc
import pytest

from lastmile.orders.v1 import orders_pb2_grpc
from services.devstack import LocalNats, LocalPostgres
from tests.orders_examples import account, create_request
from tests.servers import free_port, wait_until_serving

pytestmark = pytest.mark.slow


async def test_migrate_then_serve_then_drain_on_sigterm(
    postgres: LocalPostgres, nats: LocalNats, tmp_path: Path
) -> None:
    name = f"orders_{uuid.uuid4().hex[:8]}"
    await postgres.ensure_database(name)
    port = free_port()
    env = {
        **os.environ,
        "LASTMILE_ORDERS_GRPC_PORT": str(port),
        "LASTMILE_ORDERS_ADMIN_PORT": "-1",
        "LASTMILE_ORDERS_DATABASE_URL": postgres.dsn(name),
        "LASTMILE_ORDERS_NATS_URL": nats.url,
        "LASTMILE_ORDERS_MIGRATE_ON_START": "false",
        # Nobody listens here: creating fails, but reading and health do not need pricing.
        "LASTMILE_ORDERS_PRICING_TARGET": f"127.0.0.1:{free_port()}",
        "LASTMILE_ORDERS_PRICING_DEADLINE_SECONDS": "0.3",
    }
    command = [sys.executable, "-m", "services.orders"]
    migrated = await asyncio.to_thread(
        subprocess.run, [*command, "migrate"], env=env, capture_output=True, check=False
    )
    assert migrated.returncode == 0, migrated.stderr.decode()
    connection = await asyncpg.connect(postgres.dsn(name))
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
    finally:
        await connection.close()
    assert [t["tablename"] for t in tables] == [
        "alembic_version",
        "deliveries",
        "idempotency_keys",
        "outbox",
    ]
    with (tmp_path / "orders.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(*command, env=env, stdout=log, stderr=log)
    try:
        await asyncio.to_thread(wait_until_serving, port)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await orders_pb2_grpc.OrdersServiceStub(channel).CreateDelivery(
                    create_request(), metadata=account("customer").metadata
                )
        assert raised.value.code() is grpc.StatusCode.UNAVAILABLE
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
