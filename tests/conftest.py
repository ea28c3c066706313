"""Session-wide test setup: one tracer provider whose spans tests can inspect."""

from __future__ import annotations

import os

# Tests start servers (PostgreSQL, NATS, services) from a process with gRPC threads. With
# grpc's fork support on, its at-fork handler restarts the event engine's poller in the
# child between fork and exec, which can crash the child (SIGSEGV) before it runs
# postgres. The children exec at once and never use gRPC, so the support is not needed.
# Read by grpc when it is first imported, hence before any import that may pull it in.
os.environ["GRPC_ENABLE_FORK_SUPPORT"] = "false"

import asyncio
import signal
import sys

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.runtime import tracing

_SPANS = InMemorySpanExporter()
tracing.configure_tracing("tests", None, exporter=_SPANS, batch=False)


@pytest.fixture
def finished_spans() -> InMemorySpanExporter:
    _SPANS.clear()
    return _SPANS


def _dump_asyncio_tasks(signum: int, frame: object) -> None:
    """`kill -USR1 <pytest pid>` prints every asyncio task's stack: a hung test's
    coroutines are invisible to thread dumps."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        print("no running event loop", file=sys.stderr)
        return
    for task in asyncio.all_tasks(loop):
        print(f"--- {task!r}", file=sys.stderr)
        task.print_stack(file=sys.stderr)


signal.signal(signal.SIGUSR1, _dump_asyncio_tasks)
