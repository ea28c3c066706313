"""Byte-level calls on a blocking channel, for methods whose messages the test leaves empty."""

from __future__ import annotations

import grpc


# grpc-stubs wrongly makes the serializers mandatory; None sends and returns raw bytes.
def raw_unary(channel: grpc.Channel, method: str) -> grpc.UnaryUnaryMultiCallable[bytes, bytes]:
    return channel.unary_unary(method, None, None)


def raw_stream_stream(
    channel: grpc.Channel, method: str
) -> grpc.StreamStreamMultiCallable[bytes, bytes]:
    return channel.stream_stream(method, None, None)
