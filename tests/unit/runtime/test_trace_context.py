"""Trace context in message carriers: taken from the current span, and continued."""

from __future__ import annotations

from opentelemetry.trace import SpanKind

from services.runtime import trace_context

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CARRIER = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}


def test_a_span_continued_from_a_carrier_is_in_the_carriers_trace() -> None:
    with trace_context.continued_span("offer", CARRIER, kind=SpanKind.CONSUMER) as span:
        taken = trace_context.current()

    assert f"{span.get_span_context().trace_id:032x}" == TRACE_ID
    assert taken["traceparent"].split("-")[1] == TRACE_ID


def test_a_carrier_taken_outside_any_span_is_empty() -> None:
    assert trace_context.current() == {}


def test_a_message_without_trace_context_does_not_join_the_trace_of_the_current_span() -> None:
    # The current span may be a stream's, which lives as long as the stream.
    with (
        trace_context.continued_span("stream", CARRIER),
        trace_context.continued_span("message", {}) as span,
    ):
        assert f"{span.get_span_context().trace_id:032x}" != TRACE_ID
