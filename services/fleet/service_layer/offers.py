"""Offers from dispatch to couriers and back: showing an offer (or reporting it
undeliverable), its deadline, and the courier's accept or decline.

An offer from dispatch is shown in a task of its own under the courier's lock, so the
Link reader never waits for a courier. Each held offer has one asyncio timer at its
deadline; no task waits for it. Showing an offer is a span in the trace dispatch made
the offer in (the offer's trace context), so one trace follows the delivery from the
customer's request to the courier's screen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from opentelemetry.trace import SpanKind

from services.fleet.domain.courier import Change
from services.fleet.domain.errors import OfferExpired
from services.fleet.domain.offers import (
    DeclineReason,
    OfferAnswer,
    OfferOutcome,
    Withdrawal,
    WithdrawalReason,
)
from services.fleet.domain.values import HeldOffer
from services.fleet.service_layer import metrics
from services.fleet.service_layer.background_tasks import BackgroundTasks
from services.fleet.service_layer.ledger import CourierLedger
from services.fleet.service_layer.ports import Clock, DispatchFeed
from services.fleet.service_layer.roster import Roster, Tracked
from services.fleet.service_layer.session_messages import (
    OfferShown,
    OfferWithdrawn,
)
from services.runtime import trace_context as traces
from services.runtime.errors import DomainError

log = logging.getLogger("lastmile.fleet")


class OfferDesk:
    """The offer side of every courier this replica holds."""

    def __init__(
        self,
        roster: Roster,
        ledger: CourierLedger,
        feed: DispatchFeed,
        tasks: BackgroundTasks,
        clock: Clock,
    ) -> None:
        self._roster, self._ledger, self._feed = roster, ledger, feed
        self._tasks, self._clock = tasks, clock

    # --- from dispatch; called by the Link reader, never blocking it ---

    def offer_arrived(
        self, courier_id: str, offer: HeldOffer, trace_context: Mapping[str, str]
    ) -> None:
        self._tasks.spawn(
            self._show_traced(courier_id, offer, trace_context), name=f"offer-{offer.offer_id}"
        )

    # --- the courier's answers; called under the courier's lock ---

    async def accept(self, tracked: Tracked, offer_id: str) -> None:
        offer = await self._held_in_time(tracked, offer_id)
        change = tracked.courier.accept(offer_id, self._clock())
        if change is not None and offer is not None:
            await self._ledger.commit(tracked, change)
            tracked.cancel_offer_timer()
            self._answer(tracked, offer, OfferOutcome.ACCEPTED)

    async def decline(self, tracked: Tracked, offer_id: str, reason: DeclineReason) -> None:
        offer = await self._held_in_time(tracked, offer_id)
        change = tracked.courier.decline(offer_id, self._clock())
        if offer is not None:
            await self._ledger.commit(tracked, change)
            tracked.cancel_offer_timer()
            self._answer(tracked, offer, OfferOutcome.DECLINED, reason)

    def given_back(self, tracked: Tracked, change: Change) -> None:
        """After a change that dropped an unanswered offer (going offline, a timeout)."""
        offer = change.before.offer if change.before is not None else None
        if offer is not None and change.after.offer is None:
            tracked.cancel_offer_timer()
            self._answer(tracked, offer, OfferOutcome.EXPIRED)

    async def resume(self, tracked: Tracked) -> None:
        """After a (re)connect: keep the deadline of an unanswered offer the courier holds."""
        offer = tracked.courier.offer
        if offer is None or offer.accepted or tracked.offer_timer is not None:
            return
        if offer.expired(self._clock()):
            await self._expire_held(tracked, offer)
        else:
            self._arm(tracked, offer)

    async def _held_in_time(self, tracked: Tracked, offer_id: str) -> HeldOffer | None:
        """The offer answered, if held (the domain refuses the answer otherwise). A late
        answer is refused, and the offer treated as expired right away."""
        offer = tracked.courier.offer
        if offer is None or offer.offer_id != offer_id:
            return None
        if offer.expired(self._clock()):
            await self._expire_held(tracked, offer)
            raise OfferExpired(tracked.courier.status, offer_id)
        return offer

    # --- the work behind dispatch's messages ---

    async def _show_traced(
        self, courier_id: str, offer: HeldOffer, trace_context: Mapping[str, str]
    ) -> None:
        with traces.continued_span(
            "fleet offer",
            trace_context,
            kind=SpanKind.CONSUMER,
            attributes={"lastmile.courier_id": courier_id, "lastmile.offer_id": offer.offer_id,
                        "lastmile.delivery_id": offer.delivery_id},
        ):  # fmt: skip
            await self._show(courier_id, offer)

    async def _show(self, courier_id: str, offer: HeldOffer) -> None:
        async with self._roster.changing(courier_id):
            tracked = self._roster.get(courier_id)
            session = tracked.session if tracked is not None else None
            if tracked is None or session is None or not session.queue.has_room():
                if session is not None:
                    metrics.OFFER_DROPS.inc()
                self._undeliverable(courier_id, offer)
                return
            try:
                await self._ledger.commit(
                    tracked, tracked.courier.receive_offer(offer, self._clock())
                )
            except DomainError as refused:
                log.info("offer not shown: %s", refused.message, extra={"courier_id": courier_id})
                self._undeliverable(courier_id, offer)
                return
            if session.offer(OfferShown(offer)):
                self._arm(tracked, offer)
                return
            retract = tracked.courier.expire_offer(offer.offer_id, self._clock())
            if retract is not None:
                await self._ledger.commit_patiently(tracked, retract)
            self._undeliverable(courier_id, offer)

    # --- deadlines ---

    def _arm(self, tracked: Tracked, offer: HeldOffer) -> None:
        tracked.cancel_offer_timer()
        delay = max(0.0, (offer.expires_at - self._clock()).total_seconds())
        tracked.offer_timer = asyncio.get_running_loop().call_later(
            delay, self._deadline_passed, tracked.courier.courier_id, offer.offer_id
        )

    def _deadline_passed(self, courier_id: str, offer_id: str) -> None:
        self._tasks.spawn(self._expire(courier_id, offer_id), name=f"expire-{offer_id}")

    async def _expire(self, courier_id: str, offer_id: str) -> None:
        async with self._roster.changing(courier_id):
            tracked = self._roster.get(courier_id)
            offer = tracked.courier.offer if tracked is not None else None
            if tracked is not None and offer is not None and offer.offer_id == offer_id:
                tracked.offer_timer = None
                await self._expire_held(tracked, offer)

    async def _expire_held(self, tracked: Tracked, offer: HeldOffer) -> None:
        change = tracked.courier.expire_offer(offer.offer_id, self._clock())
        if change is None:
            return
        if not await self._ledger.commit_patiently(tracked, change):
            return
        tracked.cancel_offer_timer()
        if tracked.session is not None:
            tracked.session.send(
                OfferWithdrawn(
                    Withdrawal(offer.offer_id, offer.delivery_id, WithdrawalReason.EXPIRED)
                )
            )
        self._answer(tracked, offer, OfferOutcome.EXPIRED)

    def _answer(
        self,
        tracked: Tracked,
        offer: HeldOffer,
        outcome: OfferOutcome,
        reason: DeclineReason | None = None,
    ) -> None:
        self._feed.offer_answered(
            OfferAnswer(
                offer.offer_id,
                tracked.courier.courier_id,
                offer.delivery_id,
                outcome,
                self._clock(),
                reason,
            )
        )

    def _undeliverable(self, courier_id: str, offer: HeldOffer) -> None:
        self._feed.offer_answered(
            OfferAnswer(
                offer.offer_id,
                courier_id,
                offer.delivery_id,
                OfferOutcome.UNDELIVERABLE,
                self._clock(),
            )
        )
