"""A byte-level gRPC server that answers every public method of the contract and records what
reached it (method, metadata, request messages), so tests can see what the edge forwarded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from gateway.edge.surface import EdgeSurface, PublicMethod
from services.runtime.grpc_types import RpcMethodHandler


@dataclass
class RecordedCall:
    """One call as the upstream saw it."""

    method: str
    metadata: list[tuple[str, str]]
    requests: list[bytes] = field(default_factory=list)

    def values(self, key: str) -> list[str]:
        return [value for name, value in self.metadata if name == key]


class RecordingUpstream:
    """Serves every public method: calls answer `replies[path][0]` (default: the empty message),
    server streams yield all replies; each reply comes after `delays[path]` seconds."""

    def __init__(
        self,
        surface: EdgeSurface,
        replies: Mapping[str, list[bytes]],
        delays: Mapping[str, float],
    ) -> None:
        self._replies = replies
        self._delays = delays
        self._lock = threading.Lock()
        self.calls: list[RecordedCall] = []
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        health_servicer = health.HealthServicer()
        for service in surface.public:
            health_servicer.set(service.full_name, health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, self._server)
        self._server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    service.full_name, {m.name: self._handler_for(m) for m in service.methods}
                )
                for service in surface.public
            ]
        )
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop(grace=1).wait()

    def calls_to(self, grpc_path: str) -> list[RecordedCall]:
        with self._lock:
            return [call for call in self.calls if call.method == grpc_path]

    def _record(self, method: str, context: grpc.ServicerContext) -> RecordedCall:
        call = RecordedCall(
            method, [(key, str(value)) for key, value in context.invocation_metadata()]
        )
        with self._lock:
            self.calls.append(call)
        return call

    def _handler_for(self, public_method: PublicMethod) -> RpcMethodHandler:
        method = public_method.grpc_path
        client_streaming = public_method.client_streaming
        server_streaming = public_method.server_streaming
        replies = self._replies.get(method, [b""])
        delay = self._delays.get(method, 0.0)

        def unary(request: bytes, context: grpc.ServicerContext) -> bytes:
            self._record(method, context).requests.append(request)
            time.sleep(delay)
            return replies[0]

        def client_stream(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
            call = self._record(method, context)
            call.requests.extend(requests)
            return replies[0]

        def server_stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
            self._record(method, context).requests.append(request)
            for reply in replies:
                time.sleep(delay)
                yield reply

        def bidi(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
            self._record(method, context).requests.extend(requests)
            yield from replies

        if client_streaming and server_streaming:
            return grpc.stream_stream_rpc_method_handler(bidi)
        if client_streaming:
            return grpc.stream_unary_rpc_method_handler(client_stream)
        if server_streaming:
            return grpc.unary_stream_rpc_method_handler(server_stream)
        return grpc.unary_unary_rpc_method_handler(unary)
