"""Building and opening lastmile.events.v1.EventEnvelope, with W3C trace context."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from google.protobuf import any_pb2, timestamp_pb2
from google.protobuf.message import Message
from opentelemetry import context as otel_context

from lastmile.events.v1 import envelope_pb2
from services.runtime import trace_context


def new_envelope(
    *,
    event_type: str,
    source: str,
    subject: str,
    payload: Message,
    sequence: int = 0,
    time: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> envelope_pb2.EventEnvelope:
    """An envelope for `payload`, carrying the current trace context so that consumers
    continue the trace of the request that caused the event."""
    packed = any_pb2.Any()
    packed.Pack(payload)
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime((time or datetime.now(UTC)).astimezone(UTC))
    return envelope_pb2.EventEnvelope(
        event_id=str(event_id or uuid.uuid4()),
        type=event_type,
        source=source,
        subject=subject,
        time=stamp,
        sequence=sequence,
        trace_context=trace_context.current(),
        payload=packed,
    )


def trace_context_of(envelope: envelope_pb2.EventEnvelope) -> otel_context.Context:
    """The OpenTelemetry context the producer was in when it emitted the event."""
    return trace_context.context_of(envelope.trace_context)
