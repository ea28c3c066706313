"""Server spans: one SERVER span per call, continuing the caller's W3C trace context.

Written against the OpenTelemetry API inside the call pipeline, with the names and
attributes that opentelemetry-instrumentation-grpc gives grpc.aio servers (span name
"/package.Service/Method", rpc.*, net.peer.*), because that interceptor cost ~35 µs a
call even when the call was not sampled: it rebuilt the handler and wrapped the
context for every call and built its attribute dicts before asking the sampler. Here
an unsampled call costs one sampler decision and a non-recording span, which still
carries the trace id to logs and to downstream calls.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import unquote

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.runtime.interceptors.base import Call, CallObserver

# The semantic conventions the instrumentation's attributes follow.
SCHEMA_URL = "https://opentelemetry.io/schemas/1.11.0"
# A server reports these as errors; the others are the caller's problem, not its own
# (the instrumentation's rule, from the gRPC semantic conventions).
_SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
_NO_PARENT = Context()


class _HeaderGetter(Getter[Call]):
    """Reads propagation fields from the call's headers, scanned once per call."""

    def __init__(self, fields: frozenset[str]) -> None:
        self._fields = fields

    def get(self, carrier: Call, key: str) -> list[str] | None:
        value = carrier.header(key)
        return None if value is None else [value]

    def keys(self, carrier: Call) -> list[str]:
        return [field for field in self._fields if carrier.header(field) is not None]


class _Propagation:
    """The process's propagator (W3C trace context and baggage unless OTEL_PROPAGATORS
    says otherwise) and the header names it reads, looked up once: the composite
    propagator builds that set anew on every access."""

    def __init__(self) -> None:
        self.propagator = propagate.get_global_textmap()
        self.fields = frozenset(self.propagator.fields)
        self.getter = _HeaderGetter(self.fields)

    def parent_context(self, call: Call) -> Context:
        """The caller's trace context from the call's metadata; empty (a new trace) without."""
        if self.fields.isdisjoint(call.headers):
            return _NO_PARENT
        return self.propagator.extract(call, context=_NO_PARENT, getter=self.getter)


def peer_attributes(peer: str) -> dict[str, str]:
    """net.peer.* from grpc's peer string ("ipv4:127.0.0.1:57284", "ipv6:[::1]:57284")."""
    if peer.startswith("unix:"):
        return {}
    try:
        ip, port = peer.split(",")[0].split(":", 1)[1].rsplit(":", 1)
    except (IndexError, ValueError):
        return {}
    ip = unquote(ip)
    attributes = {"net.peer.ip": ip, "net.peer.port": port}
    if ip in ("[::1]", "127.0.0.1"):
        attributes["net.peer.name"] = "localhost"
    return attributes


class ServerSpans(CallObserver):
    """Starts each call's span and makes it current; must run first, so that every other
    concern (the access log above all) sees the span, and its end is the last."""

    def __init__(
        self, untraced: Collection[str] = (), tracer_provider: trace.TracerProvider | None = None
    ) -> None:
        # Full method names ("/pkg.Service/Method") of streams that live for hours: a span
        # would stay open (and in memory) for the whole stream and parent all it does.
        self._untraced = frozenset(untraced)
        self._propagation = _Propagation()
        # The process's provider unless told (a benchmark compares samplers side by side).
        self._tracer = trace.get_tracer(
            __name__, schema_url=SCHEMA_URL, tracer_provider=tracer_provider
        )

    def begin(self, call: Call) -> Any:
        if call.method in self._untraced:
            return None
        parent = self._propagation.parent_context(call)
        # No attributes before the sampler decides: an unsampled call builds none.
        span = self._tracer.start_span(call.method, context=parent, kind=SpanKind.SERVER)
        if span.is_recording():
            span.set_attributes(
                {
                    "rpc.system": "grpc",
                    "rpc.grpc.status_code": grpc.StatusCode.OK.value[0],
                    "rpc.method": call.method_name,
                    "rpc.service": call.service,
                }
            )
            user_agent = call.header("user-agent")
            if user_agent is not None:
                span.set_attribute("rpc.user_agent", user_agent)
            span.set_attributes(peer_attributes(call.context.peer()))
        return span, otel_context.attach(trace.set_span_in_context(span, parent))

    def end(self, call: Call, started: Any, error: BaseException | None) -> None:
        if started is None:
            return
        span, token = started
        otel_context.detach(token)
        if span.is_recording():
            code = call.final_code(error)
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            if code in _SERVER_ERRORS:
                details = call.context.details() or code.value[1]
                span.set_status(Status(StatusCode.ERROR, f"{code}:{details}"))
            fault = _fault(error)
            if fault is not None:
                span.record_exception(fault)
        span.end()


def _fault(error: BaseException | None) -> BaseException | None:
    """What the handler raised: an abort made by the error translator stands for the
    exception it translated, which is the one worth recording."""
    if error is None or isinstance(error, GeneratorExit):
        return None
    if isinstance(error, grpc.aio.AbortError) and isinstance(error.__context__, Exception):
        return error.__context__
    return error
