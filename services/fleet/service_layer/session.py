"""One courier session: its bounded outbound queue, its rate limit, and how it ends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from services.fleet.domain.rate_limit import TokenBucket
from services.fleet.service_layer import metrics
from services.fleet.service_layer.session_messages import (
    ClosingReason,
    Outgoing,
    SessionClosing,
)
from services.fleet.service_layer.shedding_queue import SheddingQueue
from services.runtime.errors import DomainError


class _End:
    """The last item of a session that ends without SessionClosing (with an error)."""


_END = _End()


class Session:
    """The stream of one courier app; the servicer writes what `write_queued` gives."""

    __slots__ = (
        "bucket",
        "closed_at",
        "closing",
        "courier_id",
        "end_reason",
        "failure",
        "queue",
        "session_id",
        "task",
    )

    def __init__(
        self, session_id: str, courier_id: str, *, queue_size: int, bucket: TokenBucket
    ) -> None:
        self.session_id = session_id
        self.courier_id = courier_id
        self.queue: SheddingQueue[Outgoing | _End] = SheddingQueue(queue_size)
        self.bucket = bucket
        self.closing: ClosingReason | None = None
        self.failure: DomainError | None = None
        self.closed_at: float | None = None
        # The task serving the stream (the call's own, which reads the app's messages),
        # cancelled if a closed session does not end.
        self.task: asyncio.Task[object] | None = None
        # Set by whoever ends the session, for the session-closes metric.
        self.end_reason = "client_closed"

    @property
    def live(self) -> bool:
        return self.closed_at is None

    def send_ack(self, message: Outgoing) -> None:
        """Acks of pings and heartbeats: the first to go when the app reads too slowly."""
        if self.live and not self.queue.put(message, droppable=True):
            metrics.ACK_DROPS.inc()

    def offer(self, message: Outgoing) -> bool:
        """Queue an offer if there is room; the caller reports it undeliverable if not."""
        if self.live and self.queue.put(message):
            return True
        metrics.OFFER_DROPS.inc()
        return False

    def send(self, message: Outgoing) -> None:
        """Anything else must arrive: an app that cannot take it is a slow consumer."""
        if self.live and not self.queue.put(message):
            metrics.SESSION_MESSAGE_DROPS.inc()
            self.close(ClosingReason.SLOW_CONSUMER)

    def close(
        self,
        reason: ClosingReason,
        *,
        reconnect_after: float | None = None,
        failure: DomainError | None = None,
    ) -> None:
        """Say SessionClosing after what is queued (instead of it, for a slow consumer),
        then end the stream: OK, or with `failure`."""
        if not self.live:
            return
        self.closing, self.failure, self.end_reason = reason, failure, reason.value.lower()
        self.closed_at = time.monotonic()
        self.queue.finish(
            SessionClosing(reason, reconnect_after),
            discard_pending=reason is ClosingReason.SLOW_CONSUMER,
        )

    def fail(self, failure: DomainError) -> None:
        """End the stream with `failure` and no SessionClosing (a broken protocol)."""
        if self.live:
            self.failure, self.end_reason = failure, "error"
            self._end(discard_pending=True)

    def end_by_client(self) -> None:
        """The app closed its side: send what is queued, then end the stream OK."""
        if self.live:
            self.end_reason = "client_closed"
            self._end(discard_pending=False)

    def _end(self, *, discard_pending: bool) -> None:
        self.closed_at = time.monotonic()
        self.queue.finish(_END, discard_pending=discard_pending)

    async def write_queued(self, write: Callable[[Outgoing], Awaitable[None]]) -> bool:
        """Write what is queued, in order, with `write`. False once the queue is empty;
        True once the stream is over (SessionClosing written, or the session ended), and
        then the session's failure, if any, is raised."""
        queue = self.queue
        while queue.ready():
            item = queue.get_nowait()
            if isinstance(item, _End):
                break
            await write(item)
            if isinstance(item, SessionClosing):
                break
        else:
            return False
        if self.failure is not None:
            raise self.failure
        return True
