"""Server spans from the call pipeline: the names and attributes of the gRPC semantic
conventions for sampled calls, and for unsampled ones no span at all but a trace id that
still reaches downstream calls and the log. In-process servers on port 0, spans read
from the session's in-memory exporter."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags

from services.runtime import tracing
from services.runtime.channels import ChannelPool
from services.runtime.config import ServiceSettings
from services.runtime.interceptors.server_spans import peer_attributes
from services.runtime.server import ServiceBinding, ServiceHost
from tests.captured_log import captured_log
from tests.servers import raw_stream_stream, raw_unary, serving
from tests.unit.runtime.echo import BIDI, SERVICE, UNARY, echo_host

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN_ID = "b7ad6b7169203331"
SAMPLED_CALLER = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"
UNSAMPLED_CALLER = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-00"
USER_AGENT = "lastmile-test/1.0"


def server_spans(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [
        span
        for span in exporter.get_finished_spans()
        if span.name == name and span.kind is SpanKind.SERVER
    ]


async def test_a_sampled_call_gets_one_server_span_with_the_grpc_semantic_conventions(
    finished_spans: InMemorySpanExporter,
) -> None:
    host, _ = echo_host()
    options = (("grpc.primary_user_agent", USER_AGENT),)
    async with (
        serving(host) as address,
        grpc.aio.insecure_channel(address, options=options) as channel,
    ):
        assert await raw_unary(channel, UNARY)(b"x") == b"x"
    [span] = server_spans(finished_spans, UNARY)
    attributes = dict(span.attributes or {})
    assert str(attributes.pop("rpc.user_agent")).startswith(USER_AGENT)
    assert str(attributes.pop("net.peer.port")).isdigit()
    assert attributes == {
        "rpc.system": "grpc",
        "rpc.service": SERVICE,
        "rpc.method": "Unary",
        "rpc.grpc.status_code": 0,
        "net.peer.ip": "127.0.0.1",
        "net.peer.name": "localhost",
    }
    assert span.status.status_code is StatusCode.UNSET
    assert span.parent is None


async def test_a_server_fault_is_an_error_span_and_a_callers_mistake_is_not(
    finished_spans: InMemorySpanExporter,
) -> None:
    host, _ = echo_host()
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        for request in (b"boom", b"not-found"):
            with pytest.raises(grpc.aio.AioRpcError):
                await raw_unary(channel, UNARY)(request)
    internal, not_found = server_spans(finished_spans, UNARY)
    assert internal.attributes is not None
    assert not_found.attributes is not None
    assert internal.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INTERNAL.value[0]
    assert internal.status.status_code is StatusCode.ERROR
    assert (internal.status.description or "").startswith("StatusCode.INTERNAL:internal error")
    # The fault the error mapping translated is recorded, not the abort that replaced it.
    recorded = [(e.attributes or {}).get("exception.type") for e in internal.events]
    assert recorded == ["RuntimeError"]
    assert not_found.attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert not_found.status.status_code is StatusCode.UNSET


async def test_a_call_continues_the_trace_of_the_callers_traceparent(
    finished_spans: InMemorySpanExporter,
) -> None:
    host, _ = echo_host()
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        await raw_unary(channel, UNARY)(b"x", metadata=(("traceparent", SAMPLED_CALLER),))
    [span] = server_spans(finished_spans, UNARY)
    assert span.parent is not None
    assert span.parent.is_remote
    assert f"{span.parent.span_id:016x}" == CALLER_SPAN_ID
    assert f"{span.context.trace_id:032x}" == TRACE_ID


async def test_a_stream_gets_its_span_when_it_ends_and_an_untraced_one_gets_none(
    finished_spans: InMemorySpanExporter,
) -> None:
    host, _ = echo_host(untraced_methods=frozenset({"Unary"}))
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        assert [r async for r in raw_stream_stream(channel, BIDI)(iter([b"a", b"b"]))] == [
            b"A",
            b"B",
        ]
        assert await raw_unary(channel, UNARY)(b"x") == b"x"
    [stream] = server_spans(finished_spans, BIDI)
    assert stream.attributes is not None
    assert (stream.attributes["rpc.method"], stream.attributes["rpc.grpc.status_code"]) == (
        "Bidi",
        0,
    )
    assert server_spans(finished_spans, UNARY) == []


UPSTREAM = "lastmile.test.v1.TraceparentService"
RELAY = "lastmile.test.v1.RelayService"


def one_method_host(service: str, behaviour: Any) -> ServiceHost:
    def register(servicer: Any, server: grpc.aio.Server) -> None:
        handler = grpc.unary_unary_rpc_method_handler(servicer)
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, {"Call": handler}),)
        )

    return ServiceHost(
        ServiceSettings(admin_port=-1), bindings=[ServiceBinding(service, behaviour, register)]
    )


async def traceparent_received(request: bytes, context: Any) -> bytes:
    received: dict[str, str] = dict(context.invocation_metadata() or ())
    return received.get("traceparent", "").encode()


async def test_an_unsampled_call_records_no_span_but_gives_its_trace_id_to_calls_it_makes_and_to_its_log(  # noqa: E501
    finished_spans: InMemorySpanExporter,
) -> None:
    pool = ChannelPool(default_timeout=5)
    async with serving(one_method_host(UPSTREAM, traceparent_received)) as upstream_address:

        async def relay(request: bytes, context: Any) -> bytes:
            reply: bytes = await raw_unary(pool.channel(upstream_address), f"/{UPSTREAM}/Call")(
                request
            )
            return reply

        with captured_log("relay") as log:
            async with (
                serving(one_method_host(RELAY, relay)) as relay_address,
                grpc.aio.insecure_channel(relay_address) as channel,
            ):
                passed_on = await raw_unary(channel, f"/{RELAY}/Call")(
                    b"", metadata=(("traceparent", UNSAMPLED_CALLER),)
                )
        await pool.close()
    version, trace_id, span_id, flags = passed_on.decode().split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "00")
    assert span_id != CALLER_SPAN_ID  # the relay's own (non-recording) span is the parent
    recorded = finished_spans.get_finished_spans()
    assert [span for span in recorded if span.context.trace_id == int(TRACE_ID, 16)] == []
    relayed = [entry for entry in log.access_entries() if entry["rpc"] == f"/{RELAY}/Call"]
    assert [(entry["trace_id"], entry["code"]) for entry in relayed] == [(TRACE_ID, "OK")]


def test_the_head_sampler_samples_its_ratio_of_new_traces_and_follows_a_callers_decision() -> None:
    never = TracerProvider(sampler=tracing.head_sampler(0.0)).get_tracer("test")
    always = TracerProvider(sampler=tracing.head_sampler(1.0)).get_tracer("test")

    def caller(flags: TraceFlags) -> Any:
        remote = SpanContext(int(TRACE_ID, 16), int(CALLER_SPAN_ID, 16), True, flags)
        return trace.set_span_in_context(NonRecordingSpan(remote))

    assert not never.start_span("new trace").is_recording()
    assert never.start_span("sampled caller", context=caller(TraceFlags(1))).is_recording()
    assert always.start_span("new trace").is_recording()
    assert not always.start_span("unsampled caller", context=caller(TraceFlags(0))).is_recording()


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        ("ipv4:10.2.1.1:57284", {"net.peer.ip": "10.2.1.1", "net.peer.port": "57284"}),
        (
            "ipv6:%5B::1%5D:57284",
            {"net.peer.ip": "[::1]", "net.peer.port": "57284", "net.peer.name": "localhost"},
        ),
        ("unix:/tmp/grpc.sock", {}),
        ("garbled", {}),
    ],
)
def test_peer_attributes_split_grpcs_peer_string_as_the_instrumentation_does(
    peer: str, expected: dict[str, str]
) -> None:
    assert peer_attributes(peer) == expected
