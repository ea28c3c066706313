"""Services run on uvloop: the loop run_service gives them serves grpc.aio calls, the
runtime's interceptors and a graceful stop included."""

from __future__ import annotations

import asyncio

import grpc
import uvloop

from services.runtime.process import new_event_loop
from tests.servers import raw_unary, serving
from tests.unit.runtime.echo import UNARY, echo_host


async def echo_once() -> tuple[type[asyncio.AbstractEventLoop], bytes]:
    host, _ = echo_host()
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        reply = await raw_unary(channel, UNARY)(b"over uvloop")
    return type(asyncio.get_running_loop()), reply


def test_the_service_loop_is_uvloop_and_serves_a_call_through_the_runtime() -> None:
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        loop_type, reply = runner.run(echo_once())
    assert issubclass(loop_type, uvloop.Loop)
    assert reply == b"over uvloop"
