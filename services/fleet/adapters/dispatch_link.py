"""The Link client: fleet's one stream to dispatch, dialled and kept open in the
background for the replica's lifetime.

Every (re)connect starts over with LinkHello and a full snapshot, which replaces all
dispatch held for this replica, so nothing queued for a broken Link needs replaying;
the queue is dropped. Targets are tried in turn (a standby refuses with UNAVAILABLE),
with exponential backoff and jitter after a Link that failed early. The outbound queue
is bounded: position batches are shed first; a change that does not fit forces a
reconnect, whose snapshot carries it. Messages from dispatch are handed to the offer
desk, which never makes this reader wait for a courier.

grpc.aio sends the requests from a task of its own that iterates `LinkRequests`; the
Link that opened them ends them whenever its call ends, however it ends (dispatch's
status, a cut connection, a resync, stop), so that task always finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence

import grpc
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from lastmile.dispatch.v1 import dispatch_internal_pb2 as link_pb2
from lastmile.dispatch.v1 import dispatch_internal_pb2_grpc as link_pb2_grpc
from services.fleet.adapters import link_messages
from services.fleet.adapters.dispatch_inbound import DispatchInbound
from services.fleet.domain.offers import OfferAnswer
from services.fleet.domain.values import Fix
from services.fleet.service_layer import metrics
from services.fleet.service_layer.ports import CourierView, DispatchFeed
from services.fleet.service_layer.shedding_queue import SheddingQueue
from services.runtime.background import finish
from services.runtime.channels import ChannelPool

log = logging.getLogger("lastmile.fleet.link")
# A Link that lasted this long was healthy: the next dial goes without backoff.
HEALTHY_SECONDS = 1.0
_POSITION_DROPS = metrics.QUEUE_DROPS.labels("link_position")
_CHANGE_DROPS = metrics.QUEUE_DROPS.labels("link_change")


class LinkDown(Exception):
    """The Link ended before it was ever healthy."""


class DispatchLink(DispatchFeed):
    """Feeds dispatch; `bind` it to what it reports and whom it tells, then `start`."""

    def __init__(
        self,
        channels: ChannelPool,
        targets: Sequence[str],
        *,
        replica_id: str,
        queue_size: int,
        healthy_seconds: float = HEALTHY_SECONDS,
    ) -> None:
        if not targets:
            raise ValueError("the Link needs at least one dispatch target")
        self._channels, self._targets, self._replica_id = channels, tuple(targets), replica_id
        self._queue_size, self._healthy_seconds = queue_size, healthy_seconds
        self._queue: SheddingQueue[link_pb2.LinkRequest] = SheddingQueue(queue_size)
        self._open = False  # accepting messages for the current Link
        self._call: (
            grpc.aio.StreamStreamCall[link_pb2.LinkRequest, link_pb2.LinkResponse] | None
        ) = None
        self._resyncing = False
        self._snapshot: Callable[[], list[CourierView]] = list
        self._inbound: DispatchInbound | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def bind(self, *, snapshot: Callable[[], list[CourierView]], inbound: DispatchInbound) -> None:
        self._snapshot, self._inbound = snapshot, inbound

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dispatch-link")

    async def stop(self) -> None:
        self._stopping.set()
        self._close_current()
        await finish(self._task, grace=5.0, name="dispatch-link")

    # --- DispatchFeed: never blocks ---

    def courier_changed(self, view: CourierView) -> None:
        if self._open and not self._queue.put(link_messages.courier_changed(view)):
            self._resync()

    def offer_answered(self, answer: OfferAnswer) -> None:
        # While the Link is down, the offer's deadline covers a lost answer.
        if self._open and not self._queue.put(link_messages.offer_response(answer)):
            self._resync()

    def positions_moved(self, fixes: dict[str, Fix]) -> None:
        if not (
            self._open and self._queue.put(link_messages.position_batch(fixes), droppable=True)
        ):
            _POSITION_DROPS.inc(len(fixes))

    # --- the connection ---

    async def _run(self) -> None:
        targets = itertools.cycle(self._targets)
        dialled = False
        while not self._stopping.is_set():
            async for attempt in AsyncRetrying(
                wait=wait_exponential_jitter(multiplier=0.1, max=5.0),
                retry=retry_if_exception_type(LinkDown),
                sleep=self._pause,
                before_sleep=_log_backoff,
            ):
                with attempt:
                    if self._stopping.is_set():
                        return
                    if dialled:
                        metrics.LINK_RECONNECTS.inc()
                    dialled = True
                    await self._link(next(targets))

    async def _link(self, target: str) -> None:
        """One Link to `target`, until it ends; LinkDown if it never became healthy."""
        stub = link_pb2_grpc.DispatchInternalServiceStub(self._channels.channel(target))
        # Taken together, synchronously: every change after the snapshot is queued after it.
        self._queue = SheddingQueue(self._queue_size)
        snapshot, self._open, self._resyncing = self._snapshot(), True, False
        requests = LinkRequests(self._opening(snapshot), self._queue)
        loop = asyncio.get_running_loop()
        started, outcome = loop.time(), "ended"
        call = self._call = stub.Link(requests)
        try:
            async for response in call:
                self._receive(response)
            outcome = (await call.code()).name
        except grpc.aio.AioRpcError as failure:
            outcome = f"{failure.code().name}: {failure.details()}"
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not (self._resyncing or self._stopping.is_set()) or (
                current and current.cancelling()
            ):
                raise
            outcome = "resync" if self._resyncing else "stopping"
        finally:
            # A call that dispatch ended leaves grpc's sender waiting for the next request:
            # ending the requests releases it.
            requests.end()
            self._open, self._call = False, None
            metrics.LINK_CONNECTED.set(0)
        log.warning("link to dispatch ended", extra={"target": target, "outcome": outcome})
        if loop.time() - started < self._healthy_seconds and not self._stopping.is_set():
            raise LinkDown(f"{target}: {outcome}")

    def _opening(self, snapshot: list[CourierView]) -> Iterator[link_pb2.LinkRequest]:
        yield link_messages.hello(self._replica_id)
        yield from link_messages.snapshot_chunks(str(uuid.uuid4()), snapshot)
        # Reached when grpc asks for what follows the last chunk, so the snapshot is out.
        metrics.LINK_CONNECTED.set(1)
        log.info("link to dispatch up", extra={"couriers": len(snapshot)})

    def _receive(self, response: link_pb2.LinkResponse) -> None:
        if self._inbound is not None:
            self._inbound.receive(response)

    def _resync(self) -> None:
        """A change did not fit: start over, so that the new snapshot carries it."""
        _CHANGE_DROPS.inc()
        if self._open:
            log.warning("link queue full; reconnecting to resend the snapshot")
            self._resyncing = True
            self._close_current()

    def _close_current(self) -> None:
        self._open = False
        self._queue.finish(LinkRequests.END, discard_pending=True)
        if self._call is not None:
            self._call.cancel()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)


class LinkRequests:
    """What one Link sends, in order: the opening (hello and the snapshot), then the
    queue, until `END` is taken from it. An iterator rather than an async generator, so
    that a Link that ends while grpc's sender waits on it leaves nothing to finalize."""

    END = link_pb2.LinkRequest()  # ends the request stream (never sent)

    def __init__(
        self,
        opening: Iterator[link_pb2.LinkRequest],
        queue: SheddingQueue[link_pb2.LinkRequest],
    ) -> None:
        self._opening: Iterator[link_pb2.LinkRequest] | None = opening
        self._queue = queue

    def __aiter__(self) -> LinkRequests:
        return self

    async def __anext__(self) -> link_pb2.LinkRequest:
        if self._opening is not None:
            request = next(self._opening, None)
            if request is not None:
                return request
            self._opening = None
        request = await self._queue.get()
        if request is self.END:
            raise StopAsyncIteration
        return request

    def end(self) -> None:
        """Send nothing more: a pending or later `__anext__` ends the iteration."""
        self._opening = None
        self._queue.finish(self.END, discard_pending=True)


def _log_backoff(state: RetryCallState) -> None:
    failure = state.outcome.exception() if state.outcome else None
    log.warning(
        "link to dispatch failed; retrying",
        extra={
            "attempt": state.attempt_number,
            "error": str(failure),
        },
    )
