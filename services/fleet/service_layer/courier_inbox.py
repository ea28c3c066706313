"""The courier app's up messages: rate-limited, each answered exactly once per
client_message_id, and never ending the session when refused.

Pings and heartbeats are handled inline and cheaply. State changes run under the
courier's lock, in a task that outlives the session that asked (a replaced session must
not cut a confirmation in half); their answers are kept per courier, so that a re-send
with the same id is not applied twice and gets the same answer, also after a reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from services.fleet.service_layer.ledger import CourierLedger, CourierMovedAway
from services.fleet.service_layer.offers import OfferDesk
from services.fleet.service_layer.ports import Clock, Orders
from services.fleet.service_layer.positions import PositionRelay
from services.fleet.service_layer.roster import Answer, Roster, Tracked
from services.fleet.service_layer.session import Session
from services.fleet.service_layer.session_messages import (
    AcceptOffer,
    Acked,
    Command,
    ConfirmDropoff,
    ConfirmPickup,
    DeclineOffer,
    GoOffline,
    GoOnline,
    Heartbeat,
    Malformed,
    Rejected,
    ReportLocations,
)
from services.runtime.errors import DomainError, ResourceExhausted, Unavailable

log = logging.getLogger("lastmile.fleet")
_INLINE = (ReportLocations, Heartbeat)


class CourierInbox:
    """Handles what a courier app sends on its session."""

    def __init__(
        self,
        roster: Roster,
        ledger: CourierLedger,
        offers: OfferDesk,
        positions: PositionRelay,
        orders: Orders,
        clock: Clock,
        *,
        recent_answers: int,
    ) -> None:
        self._roster, self._ledger, self._offers = roster, ledger, offers
        self._positions, self._orders, self._clock = positions, orders, clock
        self._recent_answers = recent_answers

    def receive_inline(self, session: Session, message_id: str, command: Command) -> Tracked | None:
        """Everything but a change of state, handled at once (pings and heartbeats are
        most of what apps send); the courier if `command` is a change, which the caller
        then awaits with `change`."""
        tracked = self._roster.get(session.courier_id)
        if tracked is None or tracked.session is not session or session.closed_at is not None:
            return None
        tracked.last_seen = time.time()
        if not session.bucket.take(time.monotonic()):
            session.fail(
                ResourceExhausted(
                    "more than the allowed messages per second; slow down and reconnect",
                    retry_after=timedelta(seconds=1),
                )
            )
            return None
        if isinstance(command, _INLINE):
            if isinstance(command, ReportLocations):
                self._positions.record(tracked, command.newest, command.received)
            if message_id:
                session.send_ack(Acked(message_id))
            return None
        if isinstance(command, Malformed):
            session.send(Rejected(message_id, command.error))
            return None
        return tracked

    async def change(
        self, tracked: Tracked, session: Session, message_id: str, command: Command
    ) -> None:
        """Apply a change of state once per message id, and answer it on `session`."""
        answer = await self._once(tracked, message_id, command)
        if answer is not None:
            session.send(Rejected(message_id, answer))
        elif message_id:
            session.send(Acked(message_id))

    async def _once(
        self, tracked: Tracked, message_id: str, command: Command
    ) -> DomainError | None:
        if not message_id:
            return await self._apply(tracked, command)
        answers = tracked.answers(self._recent_answers)
        handled: Answer | None = answers.get(message_id)
        if handled is None:
            handled = asyncio.ensure_future(self._apply(tracked, command))
            answers.remember(message_id, handled)
        answer = await asyncio.shield(handled)
        if isinstance(answer, Unavailable) or type(answer) is DomainError:
            # Not a verdict on the message: a re-send with the same id must run again.
            answers.forget(message_id)
        elif isinstance(handled, asyncio.Task) and answers.peek(message_id) is handled:
            # Kept for re-sends, possibly for hours: a finished task (with its coroutine
            # and its entry in asyncio's task set) weighs several times a plain future.
            kept: Answer = asyncio.get_running_loop().create_future()
            kept.set_result(answer)
            answers.replace(message_id, kept)
        return answer

    async def _apply(self, tracked: Tracked, command: Command) -> DomainError | None:
        courier_id = tracked.courier.courier_id
        try:
            async with self._roster.changing(courier_id):
                if self._roster.get(courier_id) is not tracked:
                    raise CourierMovedAway(courier_id)
                await self._change(tracked, command)
        except DomainError as refused:
            return refused
        except Exception:
            log.exception("courier message failed", extra={"courier_id": courier_id})
            return DomainError("internal error; re-send the message", reason="INTERNAL")
        return None

    async def _change(self, tracked: Tracked, command: Command) -> None:
        now = self._clock()
        match command:
            case GoOnline(vehicle=vehicle, fix=fix):
                if fix is not None:
                    self._positions.record(tracked, fix, 1)
                change = tracked.courier.go_online(vehicle, now)
                if change is not None:
                    await self._ledger.commit(tracked, change)
            case GoOffline():
                change = tracked.courier.go_offline(now)
                if change is not None:
                    await self._ledger.commit(tracked, change)
                    self._offers.given_back(tracked, change)
            case AcceptOffer(offer_id=offer_id):
                await self._offers.accept(tracked, offer_id)
            case DeclineOffer(offer_id=offer_id, reason=reason):
                await self._offers.decline(tracked, offer_id, reason)
            case ConfirmPickup(delivery_id=delivery_id):
                await self._confirm_pickup(tracked, delivery_id)
            case ConfirmDropoff(delivery_id=delivery_id):
                await self._confirm_dropoff(tracked, delivery_id)

    async def _confirm_pickup(self, tracked: Tracked, delivery_id: str) -> None:
        delivery = tracked.courier.delivery_to_pick_up(delivery_id)
        if delivery.picked_up:
            return
        # Acked only once orders has recorded it; the call is safe to repeat.
        await self._orders.mark_picked_up(
            delivery_id, tracked.courier.courier_id, delivery.offer_id
        )
        change = tracked.courier.picked_up(self._clock())
        if change is not None:
            await self._ledger.commit(tracked, change)

    async def _confirm_dropoff(self, tracked: Tracked, delivery_id: str) -> None:
        delivery = tracked.courier.delivery_to_drop_off(delivery_id)
        await self._orders.mark_delivered(
            delivery_id, tracked.courier.courier_id, delivery.offer_id
        )
        await self._ledger.commit(tracked, tracked.courier.delivered(self._clock()))
