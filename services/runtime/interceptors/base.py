"""The base for server interceptors that run code around every call of every kind.

grpc.aio interceptors only see the handler, not the call; to act around the call a
subclass provides `around(call)`, an async context manager, and this base rebuilds the
handler so that the behaviour (unary or streaming, in either direction) runs inside it.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, cast

import grpc

from services.runtime.grpc_types import RpcMethodHandler, ServerInterceptor, ServicerContext

Behaviour = Callable[[Any, Any], Any]


@dataclass(frozen=True, slots=True)
class Call:
    """What an interceptor knows about the call it wraps."""

    method: str  # "/package.Service/Method"
    kind: str  # unary, client_stream, server_stream or bidi_stream
    context: ServicerContext
    metadata: tuple[tuple[str, str | bytes], ...]

    @property
    def service(self) -> str:
        return self.method.rsplit("/", 2)[-2]

    @property
    def method_name(self) -> str:
        return self.method.rsplit("/", 1)[-1]

    def header(self, key: str) -> str | None:
        for name, value in self.metadata:
            if name == key and isinstance(value, str):
                return value
        return None


class AroundCallInterceptor(ServerInterceptor, abc.ABC):
    """Runs `around(call)` around each call's behaviour, for all four RPC kinds."""

    @abc.abstractmethod
    def around(self, call: Call) -> AbstractAsyncContextManager[None]:
        """The scope in which the handler runs; exceptions from the handler pass through it."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method: str = details.method
        metadata = tuple(details.invocation_metadata or ())
        if handler.unary_unary or handler.stream_unary:
            return self._wrap_unary_response(handler, method, metadata)
        return self._wrap_streaming_response(handler, method, metadata)

    def _wrap_unary_response(
        self, handler: RpcMethodHandler, method: str, metadata: tuple[Any, ...]
    ) -> RpcMethodHandler:
        # grpc-stubs types behaviours as synchronous; under grpc.aio they are coroutines.
        inner = cast(Behaviour, handler.unary_unary or handler.stream_unary)
        kind = "unary" if handler.unary_unary else "client_stream"

        async def behaviour(request: Any, context: ServicerContext) -> Any:
            async with self.around(Call(method, kind, context, metadata)):
                return await inner(request, context)

        factory = (
            grpc.unary_unary_rpc_method_handler
            if handler.unary_unary
            else grpc.stream_unary_rpc_method_handler
        )
        return factory(
            behaviour,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _wrap_streaming_response(
        self, handler: RpcMethodHandler, method: str, metadata: tuple[Any, ...]
    ) -> RpcMethodHandler:
        inner = cast(Behaviour, handler.unary_stream or handler.stream_stream)
        kind = "server_stream" if handler.unary_stream else "bidi_stream"

        async def behaviour(request: Any, context: ServicerContext) -> AsyncIterator[Any]:
            async with self.around(Call(method, kind, context, metadata)):
                result = inner(request, context)
                if inspect.isasyncgen(result):
                    async for response in result:
                        yield response
                else:
                    # A handler that writes with context.write() and returns None.
                    await result

        factory = (
            grpc.unary_stream_rpc_method_handler
            if handler.unary_stream
            else grpc.stream_stream_rpc_method_handler
        )
        return factory(
            behaviour,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def final_code(context: ServicerContext, error: BaseException | None) -> grpc.StatusCode:
    """The status the call ends with, from the context or from what escaped the handler."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if isinstance(code, int):
        return _STATUS_BY_NUMBER.get(code, grpc.StatusCode.UNKNOWN)
    if error is None:
        return grpc.StatusCode.OK
    if isinstance(error, grpc.aio.AbortError):
        return grpc.StatusCode.UNKNOWN
    if isinstance(error, BaseException) and type(error).__name__ == "CancelledError":
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN


_STATUS_BY_NUMBER = {status.value[0]: status for status in grpc.StatusCode}
