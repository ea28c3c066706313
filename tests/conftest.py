"""Session-wide test setup: one tracer provider whose spans tests can inspect."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.runtime import tracing

_SPANS = InMemorySpanExporter()
tracing.configure_tracing("tests", None, exporter=_SPANS, batch=False)


@pytest.fixture
def finished_spans() -> InMemorySpanExporter:
    _SPANS.clear()
    return _SPANS
