"""OpenTelemetry tracing: a tracer provider per process, head sampling, OTLP export when
configured.

Sampling is parent-based: a call continues its caller's decision, and a call that starts
a trace is sampled at the service's ratio (LASTMILE_<SERVICE>_TRACE_SAMPLE_RATIO). Server
spans come from the call pipeline (`interceptors.server_spans`); client spans from
opentelemetry-instrumentation-grpc on every channel. W3C trace context travels in metadata.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased

log = logging.getLogger(__name__)
_provider: TracerProvider | None = None


def head_sampler(ratio: float) -> Sampler:
    """Follow the caller's decision; sample `ratio` of the traces this service starts."""
    return ParentBased(root=TraceIdRatioBased(ratio))


def configure_tracing(
    service_name: str,
    otlp_endpoint: str | None,
    *,
    sample_ratio: float = 1.0,
    exporter: SpanExporter | None = None,
    batch: bool = True,
) -> TracerProvider:
    """Install the process's tracer provider once; later calls return the same one.

    Without an endpoint or exporter, spans are still created (so logs carry trace ids
    and context propagates) but nothing is exported. The sampler is always the one given
    here: OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG are not read.
    """
    global _provider
    if _provider is not None:
        return _provider
    provider = TracerProvider(
        sampler=head_sampler(sample_ratio),
        resource=Resource.create({"service.name": service_name}),
    )
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


def client_interceptors() -> Sequence[Any]:
    interceptors: Sequence[Any] = aio_client_interceptors()  # type: ignore[no-untyped-call]
    return interceptors
