"""Which failures mean the database or the broker cannot be reached: real exception
instances of asyncpg and nats-py, and asyncpg's own against a port where nothing listens
and a server that never answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import nats.errors
import nats.js.errors
import pytest
from asyncpg import exceptions as pg

from services.runtime import status
from services.runtime.dependencies import (
    BROKER,
    DATABASE,
    RETRY_DELAY,
    unavailable,
    unreachable_dependency,
)
from services.runtime.errors import Unavailable
from tests.servers import free_port

DATABASE_OUTAGES = [
    pg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    pg.ConnectionFailureError("connection failure"),
    pg.ClientCannotConnectError("cannot connect"),
    pg.ConnectionRejectionError("rejected"),
    pg.AdminShutdownError("terminating connection due to administrator command"),
    pg.CrashShutdownError("terminating connection because of crash of another server process"),
    pg.CannotConnectNowError("the database system is starting up"),
    pg.IdleSessionTimeoutError("terminating connection due to idle-session timeout"),
    pg.TooManyConnectionsError("sorry, too many clients already"),
    pg.InterfaceError("cannot perform operation: connection is closed"),
    pg.InterfaceError("pool is closing"),
    pg.InterfaceError("pool is closed"),
]
BROKER_OUTAGES = [
    nats.errors.NoServersError(),
    nats.errors.ConnectionClosedError(),
    nats.errors.ConnectionReconnectingError(),
    nats.errors.ConnectionDrainingError(),
    nats.errors.StaleConnectionError(),
    nats.errors.UnexpectedEOF(),
    nats.errors.OutboundBufferLimitError(),
    nats.errors.TimeoutError(),
    nats.errors.FlushTimeoutError(),
    nats.errors.NoRespondersError(),
    nats.js.errors.ServiceUnavailableError(code=503, description="JetStream unavailable"),
    nats.js.errors.NoStreamResponseError(),
]
NOT_OUTAGES = [
    pg.UniqueViolationError("duplicate key value violates unique constraint"),
    pg.UntranslatableCharacterError("unsupported Unicode escape sequence"),
    pg.QueryCanceledError("canceling statement due to statement timeout"),
    pg.ProtocolViolationError("invalid message format"),
    pg.SerializationError("could not serialize access"),
    pg.InterfaceError("the server expects 1 argument for this query, 0 were passed"),
    nats.js.errors.NotFoundError(code=404, description="stream not found"),
    nats.js.errors.BadRequestError(code=400, description="bad request"),
    nats.errors.BadSubjectError(),
    # Raised by our own code, not inside a driver: a socket error or a timeout of ours.
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError(),
    ValueError("a bug"),
]


@pytest.mark.parametrize("error", DATABASE_OUTAGES, ids=lambda e: type(e).__name__)
def test_connection_level_database_errors_mean_the_database_is_unreachable(
    error: Exception,
) -> None:
    assert unreachable_dependency(error) == DATABASE


@pytest.mark.parametrize("error", BROKER_OUTAGES, ids=lambda e: type(e).__name__)
def test_connection_level_broker_errors_mean_the_broker_is_unreachable(error: Exception) -> None:
    assert unreachable_dependency(error) == BROKER


@pytest.mark.parametrize("error", NOT_OUTAGES, ids=lambda e: f"{type(e).__name__}: {e}")
def test_query_errors_bugs_and_our_own_timeouts_are_not_outages(error: Exception) -> None:
    assert unreachable_dependency(error) is None


async def test_a_refused_database_connection_is_the_database_being_unreachable() -> None:
    with pytest.raises(ConnectionRefusedError) as refused:
        await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{free_port()}/x", timeout=5)
    assert unreachable_dependency(refused.value) == DATABASE


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP server that accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_database_that_never_answers_is_unreachable(silent_server: int) -> None:
    with pytest.raises(TimeoutError) as timed_out:
        await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{silent_server}/x", timeout=0.2)
    assert unreachable_dependency(timed_out.value) == DATABASE


def test_a_failure_caused_by_an_outage_is_the_outage() -> None:
    consequence = RuntimeError("the unit of work failed")
    consequence.__cause__ = pg.AdminShutdownError("terminating connection: administrator command")
    assert unreachable_dependency(consequence) == DATABASE


def test_an_outage_inside_an_exception_group_is_found() -> None:
    group = ExceptionGroup("import", [ValueError("bad item"), nats.errors.NoServersError()])
    assert unreachable_dependency(group) == BROKER


def test_the_error_for_an_unreachable_dependency_is_unavailable_with_retry_info() -> None:
    error = unavailable(DATABASE)
    rich = status.to_rpc_status(error, domain="orders.lastmile.dev")

    assert isinstance(error, Unavailable)
    assert status.code_for(error).name == "UNAVAILABLE"
    assert error.reason == "UPSTREAM_UNAVAILABLE"
    assert error.retry_after == RETRY_DELAY == timedelta(seconds=1)
    assert [detail.TypeName() for detail in rich.details] == [
        "google.rpc.ErrorInfo",
        "google.rpc.RetryInfo",
    ]
