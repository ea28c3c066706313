"""The local stack's PostgreSQL and NATS JetStream, as real processes: databases, restarts
that keep data, clear errors on busy ports and failed starts, JetStream dedup and fsync."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from nats import connect
from nats.js.client import JetStreamContext

from services.devstack import (
    LocalNats,
    LocalPostgres,
    PortInUseError,
    ServerStartError,
    free_port,
    is_port_free,
)

pytestmark = pytest.mark.slow


@asynccontextmanager
async def jetstream(server: LocalNats) -> AsyncIterator[JetStreamContext]:
    client = await connect(server.url, connect_timeout=5, allow_reconnect=False)
    try:
        yield client.jetstream(timeout=5)
    finally:
        await client.close()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def test_a_database_can_be_ensured_twice_and_is_then_queried_through_asyncpg(
    postgres: LocalPostgres,
) -> None:
    name = unique("orders")
    await postgres.ensure_database(name)
    await postgres.ensure_database(name)

    connection = await asyncpg.connect(postgres.dsn(name))
    try:
        assert await connection.fetchval("SELECT current_database()") == name
        assert await connection.fetchval("SHOW server_encoding") == "UTF8"
    finally:
        await connection.close()


async def test_rows_survive_a_stop_and_start_on_the_same_data_dir(
    postgres: LocalPostgres,
) -> None:
    name = unique("fleet")
    await postgres.ensure_database(name)
    connection = await asyncpg.connect(postgres.dsn(name))
    try:
        await connection.execute("CREATE TABLE courier (name text)")
        await connection.execute("INSERT INTO courier VALUES ('ada')")
    finally:
        await connection.close()
    first_pid = postgres.pid

    async with postgres.stopped():
        assert postgres.pid is None
        assert is_port_free(postgres.port)

    assert postgres.pid not in (None, first_pid)
    connection = await asyncpg.connect(postgres.dsn(name))
    try:
        assert await connection.fetchval("SELECT name FROM courier") == "ada"
    finally:
        await connection.close()


async def test_a_second_postgres_on_a_busy_port_fails_with_an_error_naming_the_port(
    postgres: LocalPostgres, tmp_path: Path
) -> None:
    second = LocalPostgres(tmp_path / "second", postgres.port)

    with pytest.raises(PortInUseError, match=f"port {postgres.port} "):
        await second.start()

    assert second.pid is None
    connection = await asyncpg.connect(postgres.dsn())
    await connection.close()


async def test_a_postgres_that_cannot_start_reports_its_port_and_log_tail(
    tmp_path: Path,
) -> None:
    server = LocalPostgres(tmp_path / "broken", free_port())
    await server.start()
    await server.stop()
    with (server.pgdata / "postgresql.conf").open("a") as config:
        config.write("no_such_setting = 1\n")

    with pytest.raises(ServerStartError) as failure:
        await server.start()

    assert f"port {server.port}" in str(failure.value)
    assert 'unrecognized configuration parameter "no_such_setting"' in str(failure.value)
    assert server.pid is None


async def test_jetstream_stores_a_message_published_twice_with_one_msg_id_once(
    nats: LocalNats,
) -> None:
    stream = unique("DEDUP")
    async with jetstream(nats) as js:
        await js.add_stream(name=stream, subjects=[f"{stream}.>"])
        headers = {"Nats-Msg-Id": "delivery-42-assigned"}
        first = await js.publish(f"{stream}.assigned", b"courier-7", headers=headers)
        second = await js.publish(f"{stream}.assigned", b"courier-7", headers=headers)
        info = await js.stream_info(stream)

    assert not first.duplicate
    assert second.duplicate
    assert second.seq == first.seq
    assert info.state.messages == 1


async def test_a_message_published_before_stop_is_still_there_after_start(
    nats: LocalNats,
) -> None:
    stream = unique("PERSIST")
    async with jetstream(nats) as js:
        await js.add_stream(name=stream, subjects=[f"{stream}.>"])
        ack = await js.publish(f"{stream}.created", b"order-1")

    async with nats.stopped():
        assert nats.pid is None
        assert is_port_free(nats.port)

    async with jetstream(nats) as js:
        stored = await js.get_msg(stream, ack.seq)
    assert stored.data == b"order-1"


async def test_the_server_fsyncs_every_jetstream_write(nats: LocalNats) -> None:
    varz = await nats.monitoring("varz")

    assert varz["jetstream"]["config"]["sync_always"] is True
    assert "sync_interval: always" in nats.config_path.read_text()


async def test_a_nats_that_cannot_start_reports_its_port_and_log_tail(tmp_path: Path) -> None:
    server = LocalNats(tmp_path / "broken", free_port(), free_port())
    # JetStream keeps its files in <store_dir>/jetstream; a plain file there stops it.
    (tmp_path / "broken" / "store").mkdir(parents=True)
    (tmp_path / "broken" / "store" / "jetstream").write_text("not a directory")

    with pytest.raises(ServerStartError) as failure:
        await server.start()

    assert f"port {server.port}" in str(failure.value)
    assert "storage directory is not a directory" in str(failure.value)
    assert server.pid is None
