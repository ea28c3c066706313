"""fleet's Link client over real gRPC, ended again and again from the dispatch side while
positions are being written: every end tears the request side down completely, so asyncio
has nothing to complain about (no task destroyed while pending, no generator closed while
running, no exception never retrieved)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest

from services.devstack import free_port
from services.fleet.adapters.dispatch_link import DispatchLink
from services.fleet.domain.values import Fix
from services.runtime.channels import ChannelPool
from tests.integration.fleet.conftest import wait_until
from tests.integration.fleet.fake_dispatch import EndLink, FakeDispatchServer

pytestmark = pytest.mark.slow

RECONNECTS = 20


class _Recorder(logging.Handler):
    def __init__(self, complaints: list[str]) -> None:
        super().__init__(logging.WARNING)
        self._complaints = complaints

    def emit(self, record: logging.LogRecord) -> None:
        self._complaints.append(record.getMessage())


@contextlib.contextmanager
def asyncio_complaints() -> Iterator[list[str]]:
    """Everything the loop's exception handler and the asyncio logger report meanwhile."""
    complaints: list[str] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(
        lambda _, context: complaints.append(f"{context['message']} {context.get('task', '')}")
    )
    recorder = _Recorder(complaints)
    logging.getLogger("asyncio").addHandler(recorder)
    try:
        yield complaints
    finally:
        logging.getLogger("asyncio").removeHandler(recorder)
        loop.set_exception_handler(previous)


@contextlib.asynccontextmanager
async def link_writing_positions(dispatch: FakeDispatchServer) -> AsyncIterator[DispatchLink]:
    """A Link to `dispatch` (reconnecting at once after any end) that is sent a batch of
    positions every millisecond, so that ends often find a write in flight."""
    channels = ChannelPool()
    link = DispatchLink(
        channels, [dispatch.address], replica_id="fleet-teardown", queue_size=64, healthy_seconds=0
    )

    async def keep_moving() -> None:
        fixes = {f"courier-{n}": Fix(52.52, 13.405, 1) for n in range(50)}
        while True:
            link.positions_moved(fixes)
            await asyncio.sleep(0.001)

    await link.start()
    mover = asyncio.create_task(keep_moving())
    try:
        yield link
    finally:
        mover.cancel()
        await asyncio.gather(mover, return_exceptions=True)
        await link.stop()
        await channels.close()


async def reconnected(dispatch: FakeDispatchServer, hellos_before: int) -> int:
    """Wait for the next Link's hello; the number of hellos so far."""
    hellos = await wait_until(
        lambda: (
            len(dispatch.fake.of_kind("hello")) > hellos_before
            and len(dispatch.fake.of_kind("hello"))
        )
    )
    # Cycles hold grpc's calls and tasks; collecting them now makes asyncio report any task
    # of an ended Link that is still pending.
    gc.collect()
    return int(hellos)


async def test_twenty_reconnects_ended_by_dispatch_leave_asyncio_nothing_to_report() -> None:
    dispatch = FakeDispatchServer(free_port())
    await dispatch.start()
    try:
        with asyncio_complaints() as complaints:
            async with link_writing_positions(dispatch):
                hellos = await reconnected(dispatch, 0)
                for round_ in range(RECONNECTS):
                    match round_ % 3:
                        case 0:
                            dispatch.fake.push(EndLink())
                        case 1:
                            dispatch.fake.push(EndLink(grpc.StatusCode.UNAVAILABLE, "go elsewhere"))
                        case _:
                            await dispatch.stop()
                            await dispatch.start()
                    hellos = await reconnected(dispatch, hellos)
            gc.collect()
            await asyncio.sleep(0)
        assert hellos == RECONNECTS + 1
        assert complaints == []
    finally:
        await dispatch.stop()
