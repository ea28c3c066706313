"""Session-wide test setup: one tracer provider whose spans tests can inspect, and the
hypothesis profiles (`ci`: fixed seed, few examples; `fuzz`: `make fuzz`, many more)."""

from __future__ import annotations

import os

# Tests start servers (PostgreSQL, NATS, services) from a process with gRPC threads. With
# grpc's fork support on, its at-fork handler restarts the event engine's poller in the
# child between fork and exec, which can crash the child (SIGSEGV) before it runs
# postgres. The children exec at once and never use gRPC, so the support is not needed.
# Read by grpc when it is first imported, hence before any import that may pull it in.
os.environ["GRPC_ENABLE_FORK_SUPPORT"] = "false"

import asyncio
import os
import signal
import sys

import pytest
from hypothesis import settings
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.runtime import tracing

_SPANS = InMemorySpanExporter()
tracing.configure_tracing("tests", None, exporter=_SPANS, batch=False)

# `ci` is derandomized: the same examples on every run, so CI never fails by luck.
# `fuzz` draws new ones each run (the seed is printed with any failure) and keeps no
# database, so a failure is reported rather than silently replayed first next time.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, max_examples=60)
settings.register_profile("fuzz", database=None, deadline=None, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
