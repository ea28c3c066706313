"""The runtime's server: interceptors, health, reflection, limits and graceful shutdown,
exercised over real gRPC against an in-process server on port 0."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from services.runtime import errors
from services.runtime.draining import Drain
from services.runtime.status import rich_status
from tests.captured_log import captured_log
from tests.servers import (
    raw_stream_stream,
    raw_stream_unary,
    raw_unary,
    raw_unary_stream,
    serving,
)
from tests.status_details import error_info
from tests.unit.runtime.echo import BIDI, CLIENT_STREAM, SERVER_STREAM, SERVICE, UNARY, echo_host


async def test_unknown_method_gives_unimplemented() -> None:
    host, _ = echo_host()
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await raw_unary(channel, f"/{SERVICE}/NoSuchMethod")(b"x")
    assert raised.value.code() is grpc.StatusCode.UNIMPLEMENTED


async def test_oversized_message_gives_resource_exhausted_and_the_handler_never_runs() -> None:
    host, echo = echo_host(max_message_bytes=1024)
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await raw_unary(channel, UNARY)(b"x" * 4096)
        assert await raw_unary(channel, UNARY)(b"small") == b"small"
    assert raised.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert echo.unary_calls == 1


async def test_domain_error_becomes_its_status_code_with_error_info() -> None:
    host, _ = echo_host()
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await raw_unary(channel, UNARY)(b"not-found")
    assert raised.value.code() is grpc.StatusCode.NOT_FOUND
    assert raised.value.details() == "no such echo"
    info = error_info(raised.value)
    assert (info.reason, info.domain, dict(info.metadata)) == (
        "NOT_FOUND",
        "echo.lastmile.dev",
        {"echo_id": "42"},
    )


async def test_invalid_argument_lists_each_field_violation() -> None:
    host, _ = echo_host()
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await raw_unary(channel, UNARY)(b"invalid")
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    status = rich_status(raised.value)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    assert any(detail.Unpack(bad_request) for detail in status.details)
    assert [(v.field, v.description) for v in bad_request.field_violations] == [
        ("terms.pickup.latitude", "must be between -90 and 90")
    ]


async def test_unexpected_exception_gives_internal_with_request_id_and_no_internals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    host, _ = echo_host()
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await raw_unary(channel, UNARY)(b"boom", metadata=(("x-request-id", "req-123"),))
        # The server survives and keeps answering.
        assert await raw_unary(channel, UNARY)(b"ok") == b"ok"
    assert raised.value.code() is grpc.StatusCode.INTERNAL
    details = raised.value.details() or ""
    assert "req-123" in details
    assert "secret" not in details
    assert "Traceback" not in details
    logged = [r for r in caplog.records if r.name == "lastmile.errors"]
    assert logged
    assert logged[0].exc_info is not None


async def test_forwarded_identity_reaches_the_handler() -> None:
    host, _ = echo_host()
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        call = raw_unary(channel, UNARY)
        signed_in = await call(
            b"caller",
            metadata=(("x-lastmile-account-id", "acc_1"), ("x-lastmile-role", "courier")),
        )
        unknown_role = await call(
            b"caller",
            metadata=(("x-lastmile-account-id", "acc_1"), ("x-lastmile-role", "admin")),
        )
        anonymous = await call(b"caller")
    assert (signed_in, unknown_role, anonymous) == (b"acc_1:courier", b"none", b"none")


async def test_request_id_is_taken_from_metadata_or_generated() -> None:
    host, _ = echo_host()
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        call = raw_unary(channel, UNARY)
        given = await call(b"request-id", metadata=(("x-request-id", "abc"),))
        generated = await call(b"request-id")
    assert given == b"abc"
    assert len(generated) == 32


def handled(method: str, code: str, kind: str) -> float:
    value = REGISTRY.get_sample_value(
        "grpc_server_handled_total",
        {"grpc_service": SERVICE, "grpc_method": method, "grpc_type": kind, "grpc_code": code},
    )
    return value or 0.0


async def test_metrics_count_every_kind_of_call_by_code_and_serve_them_on_the_admin_port() -> None:
    host, _ = echo_host(admin_port=0)
    before = {
        "ok": handled("Unary", "OK", "unary"),
        "not_found": handled("Unary", "NOT_FOUND", "unary"),
        "client": handled("ClientStream", "OK", "client_stream"),
        "bidi": handled("Bidi", "OK", "bidi_stream"),
    }
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        await raw_unary(channel, UNARY)(b"hi")
        with pytest.raises(grpc.aio.AioRpcError):
            await raw_unary(channel, UNARY)(b"not-found")
        assert await raw_stream_unary(channel, CLIENT_STREAM)(iter([b"a", b"b"])) == b"ab"
        replies = [r async for r in raw_stream_stream(channel, BIDI)(iter([b"x", b"y"]))]
        assert replies == [b"X", b"Y"]
        scrape = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{host.admin_port}/metrics").read()
        )
    assert handled("Unary", "OK", "unary") == before["ok"] + 1
    assert handled("Unary", "NOT_FOUND", "unary") == before["not_found"] + 1
    assert handled("ClientStream", "OK", "client_stream") == before["client"] + 1
    assert handled("Bidi", "OK", "bidi_stream") == before["bidi"] + 1
    assert b'grpc_server_handling_seconds_bucket{grpc_code="NOT_FOUND"' in scrape


async def test_access_log_is_one_json_line_with_method_code_duration_and_ids() -> None:
    with captured_log("echo") as log:
        host, _ = echo_host()
        async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
            with pytest.raises(grpc.aio.AioRpcError):
                await raw_unary(channel, UNARY)(b"not-found", metadata=(("x-request-id", "r-9"),))
        [entry] = log.access_entries()
    assert entry["service"] == "echo"
    assert entry["rpc"] == UNARY
    assert entry["code"] == "NOT_FOUND"
    assert entry["duration_ms"] >= 0
    assert entry["request_id"] == "r-9"
    assert len(entry["trace_id"]) == 32


async def test_health_is_serving_per_service_and_not_serving_while_draining() -> None:
    host, _ = echo_host(drain_delay_seconds=0.2)
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        check = await stub.Check(health_pb2.HealthCheckRequest(service=SERVICE))
        assert check.status == health_pb2.HealthCheckResponse.SERVING
        watch = stub.Watch(health_pb2.HealthCheckRequest(service=SERVICE))
        first = await watch.read()
        stopping = asyncio.ensure_future(host.stop())
        second = await watch.read()
        watch.cancel()
        await stopping
    assert first.status == health_pb2.HealthCheckResponse.SERVING
    assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING


async def drain_stream(stream: grpc.aio.UnaryStreamCall[bytes, bytes]) -> None:
    while await stream.read() is not grpc.aio.EOF:  # type: ignore[attr-defined]
        pass


async def test_shutdown_lets_unary_calls_finish_and_tells_streams_to_reconnect() -> None:
    host, _ = echo_host()
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        stream = raw_unary_stream(channel, SERVER_STREAM)(b"tick")
        received = [await stream.read() for _ in range(3)]
        in_flight = asyncio.ensure_future(raw_unary(channel, UNARY)(b"slow"))
        await asyncio.sleep(0.05)
        await host.stop()
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            await drain_stream(stream)
        assert await in_flight == b"finished"
    assert received == [b"tick-0", b"tick-1", b"tick-2"]
    assert ended.value.code() is grpc.StatusCode.UNAVAILABLE
    assert error_info(ended.value).reason == "DRAINING"


async def test_reflection_lists_the_services_health_and_reflection() -> None:
    host, _ = echo_host()
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        reply = await replies.read()
        replies.cancel()
    names = {service.name for service in reply.list_services_response.service}
    assert names == {
        SERVICE,
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }


async def test_the_admin_port_serves_documents_a_service_adds() -> None:
    host, _ = echo_host(admin_port=0)
    host.admin_documents["/.well-known/jwks.json"] = lambda: ("application/json", b'{"keys":[]}')
    async with serving(host):
        body = await asyncio.to_thread(
            lambda: urllib.request.urlopen(
                f"http://127.0.0.1:{host.admin_port}/.well-known/jwks.json"
            ).read()
        )
    assert body == b'{"keys":[]}'


async def test_a_failed_start_runs_the_shutdown_hooks_of_what_was_started() -> None:
    host, _ = echo_host()
    closed: list[str] = []

    async def opened() -> None:
        pass

    async def broken() -> None:
        raise RuntimeError("migration failed")

    async def close() -> None:
        closed.append("pool")

    host.on_start += [opened, broken]
    host.on_shutdown.append(close)
    with pytest.raises(RuntimeError, match="migration failed"):
        await host.start()
    assert closed == ["pool"]


async def test_a_drained_stream_lets_its_source_clean_up() -> None:
    drain = Drain()
    cleaned = asyncio.Event()

    async def source() -> AsyncIterator[int]:
        try:
            yield 1
            await asyncio.sleep(3600)
            yield 2
        finally:
            cleaned.set()

    guarded = drain.guard(source())
    assert await anext(guarded) == 1
    waiting = asyncio.ensure_future(anext(guarded))
    await asyncio.sleep(0)
    drain.begin()
    with pytest.raises(errors.Unavailable):
        await waiting
    assert cleaned.is_set()


async def test_a_method_marked_untraced_gets_no_server_span_while_the_others_do(
    finished_spans: InMemorySpanExporter,
) -> None:
    host, _ = echo_host(untraced_methods=frozenset({"Bidi"}))
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        assert await raw_unary(channel, UNARY)(b"x") == b"x"
        assert [r async for r in raw_stream_stream(channel, BIDI)(iter([b"y"]))] == [b"Y"]
    names = {span.name for span in finished_spans.get_finished_spans()}
    assert UNARY in names
    assert BIDI not in names
