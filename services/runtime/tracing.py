"""OpenTelemetry tracing: a tracer provider per process, OTLP export when configured.

Spans for calls come from opentelemetry-instrumentation-grpc, on the server and on every
client channel, for unary calls and streams; W3C trace context travels in metadata.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)

from services.runtime.grpc_types import ServerInterceptor

log = logging.getLogger(__name__)
_provider: TracerProvider | None = None


def configure_tracing(
    service_name: str,
    otlp_endpoint: str | None,
    *,
    exporter: SpanExporter | None = None,
    batch: bool = True,
) -> TracerProvider:
    """Install the process's tracer provider once; later calls return the same one.

    Without an endpoint or exporter, spans are still created (so logs carry trace ids
    and context propagates) but nothing is exported.
    """
    global _provider
    if _provider is not None:
        return _provider
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter is None and otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp_endpoint, insecure=True)
    if exporter is not None:
        provider.add_span_processor(
            BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
        )
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def shutdown_tracing() -> None:
    """Flush and stop exporting; spans still open are dropped."""
    if _provider is not None:
        _provider.force_flush(timeout_millis=5000)


def server_interceptor(untraced: Collection[str] = ()) -> ServerInterceptor:
    """Spans for every call but the `untraced` full method names ("/pkg.Service/Method")."""
    skipped = frozenset(untraced)

    def traced(details: grpc.HandlerCallDetails) -> bool:
        return details.method not in skipped

    interceptor: ServerInterceptor = aio_server_interceptor(  # type: ignore[no-untyped-call]
        filter_=traced if skipped else None
    )
    return interceptor


def client_interceptors() -> Sequence[Any]:
    interceptors: Sequence[Any] = aio_client_interceptors()  # type: ignore[no-untyped-call]
    return interceptors
