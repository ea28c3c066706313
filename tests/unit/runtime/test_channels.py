"""Client channels: deadlines (default and propagated), request ids, retries and the
translation of an upstream's status back into a domain error."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.runtime import errors
from services.runtime.channels import ChannelPool, RetryPolicy
from services.runtime.config import ServiceSettings
from services.runtime.server import ServiceBinding, ServiceHost
from services.runtime.status import domain_error_from
from tests.servers import (
    raw_unary,
    serving,
)
from tests.unit.runtime.echo import UNARY, echo_host

UPSTREAM = "lastmile.test.v1.UpstreamService"


class Upstream:
    """Reports what it observed of each call; fails the first `failures` attempts."""

    def __init__(self, failures: int = 0, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE):
        self.failures = failures
        self.code = code
        self.attempts = 0

    async def observe(self, request: bytes, context: Any) -> bytes:
        self.attempts += 1
        if self.attempts <= self.failures:
            await context.abort(self.code, "try again")
        metadata = dict(context.invocation_metadata() or ())
        return json.dumps(
            {"remaining": context.time_remaining(), "request_id": metadata.get("x-request-id")}
        ).encode()


def upstream_host(upstream: Upstream) -> ServiceHost:
    def register(servicer: Upstream, server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    UPSTREAM, {"Observe": grpc.unary_unary_rpc_method_handler(servicer.observe)}
                ),
            )
        )

    return ServiceHost(
        ServiceSettings(admin_port=-1), bindings=[ServiceBinding(UPSTREAM, upstream, register)]
    )


class Relay:
    """A middle service whose handler calls the upstream through a ChannelPool."""

    def __init__(self, pool: ChannelPool, target: str) -> None:
        self.pool, self.target = pool, target

    async def relay(self, request: bytes, context: Any) -> bytes:
        call = raw_unary(self.pool.channel(self.target), f"/{UPSTREAM}/Observe")
        reply: bytes = await call(request)
        return reply


def relay_host(relay: Relay) -> ServiceHost:
    def register(servicer: Relay, server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "lastmile.test.v1.RelayService",
                    {"Relay": grpc.unary_unary_rpc_method_handler(servicer.relay)},
                ),
            )
        )

    return ServiceHost(
        ServiceSettings(admin_port=-1),
        bindings=[ServiceBinding("lastmile.test.v1.RelayService", relay, register)],
    )


async def test_a_call_without_timeout_gets_the_pool_default_deadline() -> None:
    pool = ChannelPool(default_timeout=1.5)
    async with serving(upstream_host(Upstream())) as address:
        reply = await raw_unary(pool.channel(address), f"/{UPSTREAM}/Observe")(b"")
        await pool.close()
    remaining = json.loads(reply)["remaining"]
    # Without the default the upstream would see no deadline at all (a huge remainder);
    # the wire encoding of grpc-timeout rounds up, hence the slack.
    assert 0 < remaining < 2


async def test_the_callers_remaining_deadline_and_request_id_reach_the_upstream(
    finished_spans: InMemorySpanExporter,
) -> None:
    pool = ChannelPool(default_timeout=30)
    async with serving(upstream_host(Upstream())) as upstream_address:
        relay = Relay(pool, upstream_address)
        async with (
            serving(relay_host(relay)) as relay_address,
            grpc.aio.insecure_channel(relay_address) as channel,
        ):
            reply = await raw_unary(channel, "/lastmile.test.v1.RelayService/Relay")(
                b"", timeout=2.0, metadata=(("x-request-id", "req-from-edge"),)
            )
        await pool.close()
    observed = json.loads(reply)
    # Bounded by the caller's 2 s rather than the pool's 30 s default (wire rounding aside).
    assert 0 < observed["remaining"] < 3
    assert observed["request_id"] == "req-from-edge"
    # One trace spans both hops: the upstream's server span is a descendant of the relay's.
    spans = [s for s in finished_spans.get_finished_spans() if "lastmile.test" in s.name]
    assert len({span.context.trace_id for span in spans}) == 1
    assert len(spans) >= 3  # relay server, relay client, upstream server


async def test_unavailable_is_retried_transparently() -> None:
    upstream = Upstream(failures=2)
    pool = ChannelPool()
    async with serving(upstream_host(upstream)) as address:
        reply = await raw_unary(pool.channel(address), f"/{UPSTREAM}/Observe")(b"")
        await pool.close()
    assert json.loads(reply)["remaining"] > 0
    assert upstream.attempts == 3


@pytest.mark.parametrize("code", [grpc.StatusCode.INTERNAL, grpc.StatusCode.ABORTED])
async def test_failures_that_may_have_been_processed_are_not_retried(
    code: grpc.StatusCode,
) -> None:
    upstream = Upstream(failures=1, code=code)
    pool = ChannelPool()
    async with serving(upstream_host(upstream)) as address:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await raw_unary(pool.channel(address), f"/{UPSTREAM}/Observe")(b"")
        await pool.close()
    assert raised.value.code() is code
    assert upstream.attempts == 1


async def test_idempotent_methods_also_retry_aborted() -> None:
    upstream = Upstream(failures=1, code=grpc.StatusCode.ABORTED)
    pool = ChannelPool(retry=RetryPolicy(idempotent_methods=(f"/{UPSTREAM}/Observe",)))
    async with serving(upstream_host(upstream)) as address:
        await raw_unary(pool.channel(address), f"/{UPSTREAM}/Observe")(b"")
        await pool.close()
    assert upstream.attempts == 2


async def test_one_channel_per_upstream_is_reused() -> None:
    pool = ChannelPool()
    assert pool.channel("127.0.0.1:1") is pool.channel("127.0.0.1:1")
    assert pool.channel("127.0.0.1:1") is not pool.channel("127.0.0.1:2")
    await pool.close()


async def test_an_upstream_domain_error_is_rebuilt_with_reason_and_violations() -> None:
    host, _ = echo_host()
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        call = raw_unary(channel, UNARY)
        with pytest.raises(grpc.aio.AioRpcError) as not_found:
            await call(b"not-found")
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            await call(b"invalid")
    rebuilt = domain_error_from(not_found.value)
    assert isinstance(rebuilt, errors.NotFound)
    assert rebuilt.metadata == {"echo_id": "42"}
    rebuilt_invalid = domain_error_from(invalid.value)
    assert isinstance(rebuilt_invalid, errors.InvalidArgument)
    assert [v.field for v in rebuilt_invalid.violations] == ["terms.pickup.latitude"]
