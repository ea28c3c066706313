"""orders as a real process: `migrate` applies the schema, the service serves with its
relay running, and SIGTERM drains and exits 0 with nothing worse than info in its log,
also after the database restarted under it (the relay notices the lost connection that
held its lock, and takes the lock again)."""

from __future__ import annotations

import asyncio
import json
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
from services.runtime.events.outbox import OutboxRelay
from tests.orders_examples import account, create_request
from tests.servers import free_port, wait_until_serving

pytestmark = pytest.mark.slow
COMMAND = [sys.executable, "-m", "services.orders"]


def orders_environment(postgres: LocalPostgres, database: str, nats: LocalNats) -> dict[str, str]:
    return {
        **os.environ,
        "LASTMILE_ORDERS_GRPC_PORT": str(free_port()),
        "LASTMILE_ORDERS_ADMIN_PORT": "-1",
        "LASTMILE_ORDERS_DATABASE_URL": postgres.dsn(database),
        "LASTMILE_ORDERS_NATS_URL": nats.url,
        "LASTMILE_ORDERS_MIGRATE_ON_START": "false",
        "LASTMILE_ORDERS_DRAIN_DELAY_SECONDS": "0.2",
        # Nobody listens here: creating fails, but reading and health do not need pricing.
        "LASTMILE_ORDERS_PRICING_TARGET": f"127.0.0.1:{free_port()}",
        "LASTMILE_ORDERS_PRICING_DEADLINE_SECONDS": "0.3",
    }


def records(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def worse_than_info(log: Path, *, after: str = "") -> list[str]:
    """What the log holds above info level (from the first `after` message on)."""
    lines = records(log)
    if after:
        lines = lines[[r["message"] for r in lines].index(after) :]
    return [f"{r['level']}: {r['message']}" for r in lines if r["level"] not in ("debug", "info")]


async def relay_leaders(postgres: LocalPostgres, database: str) -> int:
    """How many sessions hold orders' outbox relay lock."""
    key = OutboxRelay.lock_key("orders")
    connection = await asyncpg.connect(postgres.dsn(database))
    try:
        held = await connection.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = $1 AND objid = $2 AND database ="
            " (SELECT oid FROM pg_database WHERE datname = current_database())",
            key >> 32,
            key & 0xFFFFFFFF,
        )
    finally:
        await connection.close()
    return int(held)


async def eventually_one_leader(postgres: LocalPostgres, database: str) -> None:
    give_up = asyncio.get_running_loop().time() + 30
    while await relay_leaders(postgres, database) != 1:
        assert asyncio.get_running_loop().time() < give_up, "the relay never took its lock"
        await asyncio.sleep(0.1)


async def test_migrate_then_serve_then_drain_on_sigterm(
    postgres: LocalPostgres, nats: LocalNats, tmp_path: Path
) -> None:
    name = f"orders_{uuid.uuid4().hex[:8]}"
    await postgres.ensure_database(name)
    env = orders_environment(postgres, name, nats)
    port = int(env["LASTMILE_ORDERS_GRPC_PORT"])
    command = COMMAND
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
        assert worse_than_info(tmp_path / "orders.log") == []
        assert records(tmp_path / "orders.log")[-1]["message"] == "stopped"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_after_a_database_restart_the_relay_leads_again_and_sigterm_logs_nothing_wrong(
    nats: LocalNats, tmp_path: Path
) -> None:
    # A PostgreSQL of its own: restarting the session's would disturb every other test.
    postgres = LocalPostgres(tmp_path / "postgres", free_port())
    await postgres.start()
    try:
        await postgres.ensure_database("orders")
        env = {
            **orders_environment(postgres, "orders", nats),
            "LASTMILE_ORDERS_MIGRATE_ON_START": "true",
        }
        log = tmp_path / "orders.log"
        with log.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                *COMMAND, env=env, stdout=sink, stderr=sink
            )
        try:
            await asyncio.to_thread(wait_until_serving, int(env["LASTMILE_ORDERS_GRPC_PORT"]))
            await eventually_one_leader(postgres, "orders")
            await postgres.stop()
            await postgres.start()
            await eventually_one_leader(postgres, "orders")
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), 20) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    finally:
        await postgres.stop()
    # The relay noticed the lost lock at once and, the database being the cause, waited for
    # it as for an outage (an info line, no stack) rather than failing.
    messages = [str(r["message"]) for r in records(log)]
    assert any(
        m.startswith("outbox-relay-orders waits for the database: LeaderConnectionLost(")
        for m in messages
    ), messages
    assert "outbox-relay-orders failed; restarting" not in messages
    assert worse_than_info(log, after="draining") == []
    assert records(log)[-1]["message"] == "stopped"
