"""runtime-pieces: CPU µs per call of each piece of the runtime's call pipeline, in-process.

Each piece wraps a handler that returns at once and is driven the way grpc.aio drives
it (interceptors' `intercept_service`, then the behaviour), with a stand-in servicer
context, so that nothing but the piece is timed. Figures are process CPU time (the
minimum of several repetitions), which a busy neighbour disturbs less than wall time.
The opentelemetry-instrumentation-grpc server interceptor, which the runtime used for
server spans until it replaced it with `ServerSpans`, is timed alongside for comparison.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from services.runtime import validation
from services.runtime.grpc_types import RpcMethodHandler, ServerInterceptor
from services.runtime.interceptors.auth_context import AuthContext
from services.runtime.interceptors.base import CallObserver, CallPipeline
from services.runtime.interceptors.error_mapping import ErrorMapping
from services.runtime.interceptors.metrics import CallMetrics
from services.runtime.interceptors.request_context import RequestContext
from services.runtime.interceptors.server_spans import ServerSpans
from services.runtime.logs import configure_logging, stop_logging
from services.runtime.tracing import head_sampler
from tests.bench.benchmark import Benchmark, LoadShape
from tests.bench.machine import describe_machine, load_average
from tests.bench.pricing_calls import create_quote_request
from tests.bench.pricing_server import PRODUCTION_TRACE_SAMPLE_RATIO, DiscardingSpanExporter

METHOD = "/lastmile.pricing.v1.PricingService/CreateQuote"
CALLS = 5_000
REPETITIONS = 7
ROW = "{:<58} {:>8}"


class _Metadatum(tuple[str, str]):
    """grpc.aio's metadata entries are (key, value) tuples with .key and .value."""

    @property
    def key(self) -> str:
        return self[0]

    @property
    def value(self) -> str:
        return self[1]


class StandInContext:
    """The parts of a grpc.aio ServicerContext the runtime reads, for a call that ends OK."""

    def __init__(self, metadata: tuple[_Metadatum, ...]) -> None:
        self._metadata = metadata

    def invocation_metadata(self) -> tuple[_Metadatum, ...]:
        return self._metadata

    def peer(self) -> str:
        return "ipv4:127.0.0.1:45678"

    def time_remaining(self) -> float | None:
        return None

    def code(self) -> grpc.StatusCode | None:
        return None

    def details(self) -> str | None:
        return None


class _Details:
    def __init__(self, method: str, metadata: tuple[_Metadatum, ...]) -> None:
        self.method = method
        self.invocation_metadata = metadata


async def _returns_at_once(request: bytes, context: Any) -> bytes:
    return request


_HANDLER = grpc.unary_unary_rpc_method_handler(_returns_at_once)
Continuation = Callable[[Any], Awaitable[RpcMethodHandler]]


def _chain(interceptors: Sequence[ServerInterceptor]) -> Continuation:
    async def lookup(details: Any) -> RpcMethodHandler:
        return _HANDLER

    continuation: Continuation = lookup
    for interceptor in reversed(interceptors):
        continuation = _bound(interceptor, continuation)
    return continuation


def _bound(interceptor: ServerInterceptor, continuation: Continuation) -> Continuation:
    async def intercept(details: Any) -> RpcMethodHandler:
        handler: RpcMethodHandler = await interceptor.intercept_service(continuation, details)
        return handler

    return intercept


async def _cpu_us_per_call(interceptors: Sequence[ServerInterceptor], metadata: Any) -> float:
    chain, details = _chain(interceptors), _Details(METHOD, metadata)
    request = create_quote_request()

    async def one_call() -> None:
        handler = await chain(details)
        behaviour: Any = handler.unary_unary
        await behaviour(request, StandInContext(metadata))

    for _ in range(CALLS // 10):
        await one_call()
    best = float("inf")
    for _ in range(REPETITIONS):
        started = time.process_time()
        for _ in range(CALLS):
            await one_call()
        best = min(best, (time.process_time() - started) / CALLS * 1e6)
    return best


def _provider(ratio: float) -> TracerProvider:
    provider = TracerProvider(sampler=head_sampler(ratio))
    provider.add_span_processor(BatchSpanProcessor(DiscardingSpanExporter()))
    return provider


def _pipeline(*observers: CallObserver, validated: bool = False) -> CallPipeline:
    return CallPipeline(
        observers=list(observers),
        errors=ErrorMapping(domain="bench"),
        validation=validation.REQUESTS if validated else None,
    )


def run(shape: LoadShape) -> None:
    print("runtime-pieces: CPU µs per call of each runtime piece, in-process (min of repeats)")
    print(f"machine: {describe_machine()}")
    print(f"load average: {load_average()}")
    # A service's logging, with its JSON lines written to /dev/null instead of stderr.
    sink = open(os.devnull, "wb")  # noqa: SIM115 - closed below, after every row
    configure_logging("pricing", "INFO", stream=sink)
    never, always = _provider(0.0), _provider(1.0)
    production = _provider(PRODUCTION_TRACE_SAMPLE_RATIO)
    everything = (RequestContext(), CallMetrics(), AuthContext())
    rows: list[tuple[str, list[ServerInterceptor]]] = [
        ("no interceptor (the floor)", []),
        ("empty pipeline", [_pipeline()]),
        ("+ server span, unsampled (ServerSpans)", [_pipeline(ServerSpans((), never))]),
        ("+ server span, sampled (ServerSpans)", [_pipeline(ServerSpans((), always))]),
        (
            "+ server span, unsampled (instrumentation interceptor)",
            [aio_server_interceptor(tracer_provider=never), _pipeline()],  # type: ignore[no-untyped-call]
        ),
        (
            "+ server span, sampled (instrumentation interceptor)",
            [aio_server_interceptor(tracer_provider=always), _pipeline()],  # type: ignore[no-untyped-call]
        ),
        ("+ request context and access log line", [_pipeline(RequestContext())]),
        ("+ metrics", [_pipeline(CallMetrics())]),
        ("+ auth context", [_pipeline(AuthContext())]),
        ("+ request validation (CreateQuote's rules)", [_pipeline(validated=True)]),
        (
            f"whole pipeline, {PRODUCTION_TRACE_SAMPLE_RATIO:.0%} sampled (production)",
            [_pipeline(ServerSpans((), production), *everything, validated=True)],
        ),
        (
            "whole pipeline, every call sampled (development)",
            [_pipeline(ServerSpans((), always), *everything, validated=True)],
        ),
    ]
    metadata = (_Metadatum(("user-agent", "grpc-c/58.0.0")), _Metadatum(("x-request-id", "r-1")))
    print()
    print(ROW.format("piece", "µs/call"))
    try:
        for label, interceptors in rows:
            figure = asyncio.run(_cpu_us_per_call(interceptors, metadata))
            print(ROW.format(label, f"{figure:.2f}"), flush=True)
    finally:
        stop_logging()
        sink.close()
        for provider in (never, always, production):
            provider.shutdown()
    print(f"\nload average: {load_average()}")


RUNTIME_PIECES = Benchmark(
    name="runtime-pieces",
    summary="CPU µs per call of each runtime piece (spans, access log, metrics), in-process",
    run=run,
    tools=(),
)
