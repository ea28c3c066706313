"""The call pipeline: one grpc.aio interceptor that runs every runtime concern around
each call, for all four RPC kinds.

Requests are checked against the contract's `buf.validate` rules (RequestValidation)
before the handler runs: a unary or server-stream request up front, the messages of a
client or bidi stream one by one as the handler reads them.

Each concern stays one class (a `CallObserver`), but they share a single rebuilt
handler per method and plain try/finally, instead of one interceptor, one handler
rebuild and one async context manager per concern per call: that nesting cost more
than the handlers it wrapped (see `make bench`, runtime-overhead).
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from typing import Any, cast

import grpc

from services.runtime.grpc_types import RpcMethodHandler, ServerInterceptor, ServicerContext
from services.runtime.validation import RequestValidation, tolerant

Behaviour = Callable[[Any, Any], Any]


class Call:
    """What the concerns know about the call in progress."""

    __slots__ = ("_code", "_headers", "context", "kind", "method", "method_name", "service")

    def __init__(
        self, method: str, service: str, method_name: str, kind: str, context: ServicerContext
    ) -> None:
        self.method = method  # "/package.Service/Method"
        self.service = service
        self.method_name = method_name
        self.kind = kind  # unary, client_stream, server_stream or bidi_stream
        self.context = context
        self._headers: dict[str, str] | None = None
        self._code: grpc.StatusCode | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The call's text metadata by name (the first copy of a repeated one)."""
        # Several concerns read headers; the metadata is scanned once per call.
        if self._headers is None:
            self._headers = {}
            for name, value in self.context.invocation_metadata() or ():
                if isinstance(value, str):
                    self._headers.setdefault(name, value)  # the first copy wins
        return self._headers

    def header(self, key: str) -> str | None:
        return self.headers.get(key)

    def final_code(self, error: BaseException | None) -> grpc.StatusCode:
        """The status the call ended with (`final_code`), worked out once for every concern."""
        if self._code is None:
            self._code = final_code(self.context, error)
        return self._code


class CallObserver(abc.ABC):
    """One concern: code that runs when a call starts and when it ends."""

    @abc.abstractmethod
    def begin(self, call: Call) -> Any:
        """Runs before the handler; the result is handed back to `end`."""

    @abc.abstractmethod
    def end(self, call: Call, started: Any, error: BaseException | None) -> None:
        """Runs after the handler, in reverse order of `begin`, even when it failed."""


class ErrorTranslator(abc.ABC):
    """The concern that turns an exception escaping a handler into a status."""

    @abc.abstractmethod
    async def abort(self, call: Call, error: Exception) -> None:
        """Abort the call with the status for `error` (raises grpc.aio.AbortError)."""


# Exceptions that already are the call's outcome, not faults to translate.
_PASS_THROUGH = (grpc.aio.AbortError, GeneratorExit)


class CallPipeline(ServerInterceptor):
    """Wraps each method's handler once with the observers, request validation and the
    error translator.

    `per_message` names the streaming methods ("/package.Service/Method") that answer
    each request message on its own (a courier's session, a bulk import): an invalid
    message reaches their handler as an InvalidMessage instead of failing the call.
    """

    def __init__(
        self,
        observers: Sequence[CallObserver],
        errors: ErrorTranslator,
        validation: RequestValidation | None = None,
        per_message: Collection[str] = (),
    ) -> None:
        self._observers = tuple(observers)
        self._reversed = tuple(reversed(self._observers))
        self._errors = errors
        self._validation = validation
        self._per_message = frozenset(per_message)
        self._wrapped: dict[str, RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> RpcMethodHandler:
        method: str = details.method
        cached = self._wrapped.get(method)
        if cached is not None:
            return cached
        handler = await continuation(details)
        if handler is None:
            return handler
        wrapped = self._wrap(handler, method)
        self._wrapped[method] = wrapped
        return wrapped

    def _wrap(self, handler: RpcMethodHandler, method: str) -> RpcMethodHandler:
        service, _, method_name = method.lstrip("/").partition("/")
        if handler.unary_unary or handler.stream_unary:
            kind = "unary" if handler.unary_unary else "client_stream"
            factory = (
                grpc.unary_unary_rpc_method_handler
                if handler.unary_unary
                else grpc.stream_unary_rpc_method_handler
            )
            # grpc-stubs types behaviours as synchronous; under grpc.aio they are coroutines.
            behaviour = self._single_response(
                cast(Behaviour, handler.unary_unary or handler.stream_unary),
                method, service, method_name, kind,
            )  # fmt: skip
        else:
            kind = "server_stream" if handler.unary_stream else "bidi_stream"
            factory = (
                grpc.unary_stream_rpc_method_handler
                if handler.unary_stream
                else grpc.stream_stream_rpc_method_handler
            )
            behaviour = self._streaming_response(
                cast(Behaviour, handler.unary_stream or handler.stream_stream),
                method, service, method_name, kind,
            )  # fmt: skip
        deserializer = handler.request_deserializer
        return factory(
            behaviour,
            # With validation, undecodable bytes become INVALID_ARGUMENT, not UNKNOWN.
            request_deserializer=deserializer
            if self._validation is None
            else tolerant(deserializer),
            response_serializer=handler.response_serializer,
        )

    def _single_response(
        self, inner: Behaviour, method: str, service: str, method_name: str, kind: str
    ) -> Behaviour:
        observers, in_reverse, errors = self._observers, self._reversed, self._errors
        validate = self._request_validator(method, kind)

        async def behaviour(request: Any, context: ServicerContext) -> Any:
            call = Call(method, service, method_name, kind, context)
            started = [observer.begin(call) for observer in observers]
            error: BaseException | None = None
            try:
                try:
                    return await inner(validate(request), context)
                except _PASS_THROUGH:
                    raise
                except Exception as failure:
                    await errors.abort(call, failure)
                    raise
            except BaseException as escaped:
                error = escaped
                raise
            finally:
                for index, observer in enumerate(in_reverse):
                    observer.end(call, started[-1 - index], error)

        return behaviour

    def _streaming_response(
        self, inner: Behaviour, method: str, service: str, method_name: str, kind: str
    ) -> Behaviour:
        observers, in_reverse, errors = self._observers, self._reversed, self._errors
        validate = self._request_validator(method, kind)

        async def behaviour(request: Any, context: ServicerContext) -> AsyncIterator[Any]:
            call = Call(method, service, method_name, kind, context)
            started = [observer.begin(call) for observer in observers]
            error: BaseException | None = None
            try:
                try:
                    result = inner(validate(request), context)
                    if inspect.isasyncgen(result):
                        async for response in result:
                            yield response
                    else:
                        # A handler that writes with context.write() and returns None.
                        await result
                except _PASS_THROUGH:
                    raise
                except Exception as failure:
                    await errors.abort(call, failure)
                    raise
            except BaseException as escaped:
                error = escaped
                raise
            finally:
                for index, observer in enumerate(in_reverse):
                    observer.end(call, started[-1 - index], error)

        return behaviour

    def _request_validator(self, method: str, kind: str) -> Callable[[Any], Any]:
        """What the handler gets instead of the request: the request itself once it is
        checked (INVALID_ARGUMENT raised otherwise), or its stream validated as read."""
        validation = self._validation
        if validation is None:
            return _unchanged
        if kind in ("client_stream", "bidi_stream"):
            per_message = method in self._per_message
            return lambda requests: validation.stream(requests, per_message=per_message)

        def checked(request: Any) -> Any:
            validation.check(request)
            return request

        return checked


def _unchanged(request: Any) -> Any:
    return request


_STATUS_BY_NUMBER = {status.value[0]: status for status in grpc.StatusCode}
# "OK", "NOT_FOUND": StatusCode.name is an enum property, looked up through a descriptor.
CODE_NAMES = {status: status.name for status in grpc.StatusCode}


def final_code(context: ServicerContext, error: BaseException | None) -> grpc.StatusCode:
    """The status the call ends with, from the context or from what escaped the handler."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if isinstance(code, int):
        return _STATUS_BY_NUMBER.get(code, grpc.StatusCode.UNKNOWN)
    if error is None:
        return grpc.StatusCode.OK
    if type(error).__name__ == "CancelledError":
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN
