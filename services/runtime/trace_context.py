"""W3C trace context carried inside messages rather than in gRPC metadata: event
envelopes, and messages on a long-lived stream (the Link), where metadata exists only
once per stream. The carrier is a string map with the keys and values of the
`traceparent` and `tracestate` headers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.util.types import Attributes

tracer = trace.get_tracer("lastmile.messages")


def current() -> dict[str, str]:
    """The current trace context as a carrier; empty when no span is current."""
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


def context_of(carrier: Mapping[str, str]) -> otel_context.Context:
    """The context a carrier was taken in; an empty carrier gives an empty context, so a
    span started in it begins a trace of its own."""
    return extract(dict(carrier))


@contextmanager
def continued_span(
    name: str,
    carrier: Mapping[str, str],
    *,
    kind: trace.SpanKind = trace.SpanKind.INTERNAL,
    attributes: Attributes = None,
) -> Iterator[trace.Span]:
    """A current span that continues the trace of `carrier`, whatever span is current
    here (a stream's span lasts as long as the stream; it is no parent for one message)."""
    with tracer.start_as_current_span(
        name, context=context_of(carrier), kind=kind, attributes=attributes
    ) as span:
        yield span
