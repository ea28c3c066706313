"""Client channels to other services: one reused channel per upstream, with a retry
policy as service config, keepalive that Envoy and gRPC servers accept, a default
deadline on every call and the caller's remaining deadline propagated.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from services.runtime import context, tracing
from services.runtime.grpc_types import (
    StreamStreamClientInterceptor,
    StreamUnaryClientInterceptor,
    UnaryStreamClientInterceptor,
    UnaryUnaryClientInterceptor,
)
from services.runtime.interceptors.request_context import REQUEST_ID_HEADER

# Keepalive: ping after 30 s without traffic so that dead peers (and NAT or proxy idle
# timeouts) are noticed on long-lived streams. Servers here accept pings every 20 s
# (grpc.http2.min_ping_interval_without_data_ms), so they never answer with too_many_pings.
CLIENT_KEEPALIVE_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
)


@dataclass(frozen=True)
class RetryPolicy:
    """gRPC's transparent retry, as service config. Only codes that mean "not
    processed" are retried by default; the call's deadline bounds every attempt."""

    max_attempts: int = 4
    initial_backoff_seconds: float = 0.05
    max_backoff_seconds: float = 1.0
    backoff_multiplier: float = 2.0
    retryable_codes: tuple[str, ...] = ("UNAVAILABLE",)
    # Methods idempotent by design may also retry these ("/pkg.Service/Method" names).
    idempotent_methods: tuple[str, ...] = ()
    idempotent_retryable_codes: tuple[str, ...] = ("UNAVAILABLE", "ABORTED")

    def _policy(self, codes: Sequence[str]) -> dict[str, Any]:
        return {
            "maxAttempts": self.max_attempts,
            "initialBackoff": f"{self.initial_backoff_seconds}s",
            "maxBackoff": f"{self.max_backoff_seconds}s",
            "backoffMultiplier": self.backoff_multiplier,
            "retryableStatusCodes": list(codes),
        }

    def service_config(self) -> str:
        method_configs: list[dict[str, Any]] = []
        if self.idempotent_methods:
            names = []
            for full_name in self.idempotent_methods:
                service, method = full_name.strip("/").split("/")
                names.append({"service": service, "method": method})
            method_configs.append(
                {"name": names, "retryPolicy": self._policy(self.idempotent_retryable_codes)}
            )
        method_configs.append({"name": [{}], "retryPolicy": self._policy(self.retryable_codes)})
        return json.dumps(
            {"methodConfig": method_configs, "loadBalancingConfig": [{"round_robin": {}}]}
        )


def _bounded_timeout(requested: float | None, default: float | None) -> float | None:
    timeout = requested if requested is not None else default
    remaining = context.remaining_seconds()
    if remaining is not None:
        # Never outlive the call being served; a spent deadline fails fast upstream.
        remaining = max(remaining, 0.001)
        timeout = remaining if timeout is None else min(timeout, remaining)
    return timeout


def _with_request_id(metadata: Any) -> Any:
    request_id = context.request_id.get()
    if request_id is None:
        return metadata
    entries = list(metadata or ())
    if not any(key == REQUEST_ID_HEADER for key, _ in entries):
        entries.append((REQUEST_ID_HEADER, request_id))
    return grpc.aio.Metadata(*entries)


class _DeadlineAndRequestId:
    """Shared by the four client interceptor kinds: adjust the call details."""

    def __init__(self, default_timeout: float | None) -> None:
        self._default_timeout = default_timeout

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        return grpc.aio.ClientCallDetails(
            method=details.method,
            timeout=_bounded_timeout(details.timeout, self._default_timeout),
            metadata=_with_request_id(details.metadata),
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )


class DeadlineUnaryUnary(_DeadlineAndRequestId, UnaryUnaryClientInterceptor):
    """Default and propagated deadline, and request id, for unary calls."""

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class DeadlineUnaryStream(_DeadlineAndRequestId, UnaryStreamClientInterceptor):
    """The same for server-streaming calls."""

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class DeadlineStreamUnary(_DeadlineAndRequestId, StreamUnaryClientInterceptor):
    """The same for client-streaming calls."""

    async def intercept_stream_unary(
        self, continuation: Any, details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(self._details(details), request_iterator)


class DeadlineStreamStream(_DeadlineAndRequestId, StreamStreamClientInterceptor):
    """The same for bidirectional calls."""

    async def intercept_stream_stream(
        self, continuation: Any, details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(self._details(details), request_iterator)


@dataclass
class ChannelPool:
    """One channel per upstream target, created on first use and reused for every call.

    `default_timeout` applies to calls with a single response that set no timeout;
    response streams are bounded only by a timeout they pass or the caller's deadline.
    """

    default_timeout: float = 5.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_message_bytes: int = 4 * 1024 * 1024
    _channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)

    def channel(self, target: str) -> grpc.aio.Channel:
        existing = self._channels.get(target)
        if existing is not None:
            return existing
        options = (
            *CLIENT_KEEPALIVE_OPTIONS,
            ("grpc.service_config", self.retry.service_config()),
            ("grpc.enable_retries", 1),
            ("grpc.max_receive_message_length", self.max_message_bytes),
            ("grpc.max_send_message_length", self.max_message_bytes),
        )
        interceptors = [
            DeadlineUnaryUnary(self.default_timeout),
            DeadlineStreamUnary(self.default_timeout),
            # Long-lived response streams get no default deadline, only a propagated one.
            DeadlineUnaryStream(None),
            DeadlineStreamStream(None),
            *tracing.client_interceptors(),
        ]
        created = grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
        self._channels[target] = created
        return created

    async def close(self, grace: float | None = None) -> None:
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            await channel.close(grace)
