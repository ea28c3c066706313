"""grpc-stubs declares these classes generic, but grpcio's classes cannot be subscripted at
run time; these aliases are generic for mypy and plain for the interpreter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc

if TYPE_CHECKING:
    ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
    RpcMethodHandler = grpc.RpcMethodHandler[Any, Any]
    UnaryUnaryClientInterceptor = grpc.aio.UnaryUnaryClientInterceptor[Any, Any]
    UnaryStreamClientInterceptor = grpc.aio.UnaryStreamClientInterceptor[Any, Any]
    StreamUnaryClientInterceptor = grpc.aio.StreamUnaryClientInterceptor[Any, Any]
    StreamStreamClientInterceptor = grpc.aio.StreamStreamClientInterceptor[Any, Any]
else:
    ServerInterceptor = grpc.aio.ServerInterceptor
    RpcMethodHandler = grpc.RpcMethodHandler
    UnaryUnaryClientInterceptor = grpc.aio.UnaryUnaryClientInterceptor
    UnaryStreamClientInterceptor = grpc.aio.UnaryStreamClientInterceptor
    StreamUnaryClientInterceptor = grpc.aio.StreamUnaryClientInterceptor
    StreamStreamClientInterceptor = grpc.aio.StreamStreamClientInterceptor

ServicerContext = grpc.aio.ServicerContext[Any, Any]
