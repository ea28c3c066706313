"""An OTLP/gRPC trace receiver inside the test process: what services and Envoy export.

Services export with the OTLP exporter (`LASTMILE_<SVC>_OTLP_ENDPOINT`) and the edge with
Envoy's OpenTelemetry tracer; both call TraceService/Export, which this server records.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span, flattened to what trace assertions need."""

    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    links: tuple[str, ...]  # trace ids of linked spans


class OtlpReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    """Collects every exported span; start() binds a free loopback port."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._server: grpc.aio.Server | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = grpc.aio.server()
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
            self, self._server
        )
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=None)

    async def Export(
        self,
        request: trace_service_pb2.ExportTraceServiceRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        for resource_spans in request.resource_spans:
            service = next(
                (
                    attribute.value.string_value
                    for attribute in resource_spans.resource.attributes
                    if attribute.key == "service.name"
                ),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        ReceivedSpan(
                            service=service,
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            kind=span.kind,
                            links=tuple(link.trace_id.hex() for link in span.links),
                        )
                    )
        return trace_service_pb2.ExportTraceServiceResponse()

    def of_trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [span for span in self.spans if span.trace_id == trace_id]

    async def wait_for(
        self, predicate: Callable[[list[ReceivedSpan]], bool], *, within: float = 30.0
    ) -> list[ReceivedSpan]:
        """Poll until `predicate(all spans)` holds; exporters batch, so spans arrive late."""
        deadline = asyncio.get_running_loop().time() + within
        while not predicate(self.spans):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    "spans never matched; received: "
                    + ", ".join(f"{s.service}:{s.name}@{s.trace_id[:8]}" for s in self.spans)
                )
            await asyncio.sleep(0.1)
        return self.spans
