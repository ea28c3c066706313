"""Which failures mean that a dependency (the service's database or its broker) cannot be
reached, and the UNAVAILABLE error a call gets for one.

The one place that knows the drivers' errors: the error mapping, the dependency monitor and
the background workers all ask `unreachable_dependency`, so no service repeats it. A failure
counts only when it says the dependency itself is gone or refusing connections (connection
refused or reset, a closed connection, a server shutting down or starting up, no broker
connection); a bad query, a constraint violation or a bug stays what it is.
"""

from __future__ import annotations

from datetime import timedelta
from types import TracebackType

import asyncpg
import nats.errors
import nats.js.errors

from services.runtime.errors import Unavailable

DATABASE = "database"
BROKER = "broker"
# What RetryInfo asks clients to wait: about one probe interval of the monitor, so a retry
# lands after the service has had a chance to see the dependency back.
RETRY_DELAY = timedelta(seconds=1)

# SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html) of a server
# that is going away or not taking connections: class 08 (connection exception; 08P01, a
# protocol violation, is a bug, not an outage), admin_shutdown and crash_shutdown (a
# server stopping or restarting kills every session with these), cannot_connect_now
# (starting up, shutting down, in recovery), idle_session_timeout (the session was closed
# under us) and too_many_connections. Not 57014 query_canceled: that is a statement
# timeout or a cancel, about the query, not the server.
_UNREACHABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57P05", "53300"})
_NOT_AN_OUTAGE_SQLSTATES = frozenset({"08P01"})
# asyncpg reports a connection or pool that is already closed as a plain InterfaceError
# (its other InterfaceErrors are misuse, such as a wrong argument count); these messages
# are the closed-connection ones (asyncpg/connection.py, pool.py, protocol.pyx).
_CLOSED_MESSAGES = ("connection is closed", "pool is closing", "pool is closed")

# The broker's: no server to connect to, a connection closed, lost or being re-established,
# a request (a publish's acknowledgement, a JetStream API call) that got no answer, no
# JetStream responder (JetStream down or without quorum) or JetStream's own 503.
_BROKER_ERRORS: tuple[type[BaseException], ...] = (
    nats.errors.NoServersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.ConnectionDrainingError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.js.errors.ServiceUnavailableError,
    nats.js.errors.NoStreamResponseError,
)
# The drivers' packages: a socket error or a timeout is the dependency's only when it was
# raised inside its driver (a connect, a read, a pool acquire), never one of our own.
_DRIVER_PACKAGES = {"asyncpg": DATABASE, "nats": BROKER}
_MAX_CHAIN = 8


def unreachable_dependency(error: BaseException) -> str | None:
    """DATABASE or BROKER when `error` (or what caused it) says that dependency cannot be
    reached; None for every other failure."""
    seen = 0
    pending: list[BaseException] = [error]
    while pending and seen < _MAX_CHAIN:
        current = pending.pop(0)
        seen += 1
        found = _classify(current)
        if found is not None:
            return found
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        # A failure raised while handling an outage (a rollback on a dead connection) is
        # the outage too.
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None


def unavailable(dependency: str) -> Unavailable:
    """The error a call gets while `dependency` cannot be reached: UNAVAILABLE with
    ErrorInfo reason UPSTREAM_UNAVAILABLE and RetryInfo."""
    return Unavailable(
        f"the service's {dependency} is unavailable; retry after the delay given",
        retry_after=RETRY_DELAY,
        metadata={"dependency": dependency},
    )


class DependencyLost(Exception):
    """Our own code noticed that a dependency went away (a connection it holds closed)."""

    dependency: str = DATABASE


def _classify(error: BaseException) -> str | None:
    if isinstance(error, DependencyLost):
        return error.dependency
    if isinstance(error, asyncpg.PostgresError):
        sqlstate = getattr(error, "sqlstate", None) or ""
        if sqlstate in _NOT_AN_OUTAGE_SQLSTATES:
            return None
        if sqlstate.startswith("08") or sqlstate in _UNREACHABLE_SQLSTATES:
            return DATABASE
        return None
    if isinstance(error, asyncpg.InterfaceError):
        return DATABASE if any(m in str(error) for m in _CLOSED_MESSAGES) else None
    if isinstance(error, _BROKER_ERRORS):
        return BROKER
    if isinstance(error, OSError):  # TimeoutError and ConnectionError included
        return _raised_in_driver(error.__traceback__)
    return None


def _raised_in_driver(traceback: TracebackType | None) -> str | None:
    """The dependency whose driver the traceback passes through, innermost first."""
    found: str | None = None
    while traceback is not None:
        module = str(traceback.tb_frame.f_globals.get("__name__", ""))
        package = module.partition(".")[0]
        found = _DRIVER_PACKAGES.get(package, found)
        traceback = traceback.tb_next
    return found
