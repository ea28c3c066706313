"""The offers awaiting an answer or an assignment: each holds its courier in the index,
and one still awaiting an answer has a backstop timer in case the answer never comes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from services.dispatch import metrics
from services.dispatch.domain.courier_index import CourierIndex
from services.dispatch.domain.offers import Offer, OfferTerms
from services.dispatch.domain.statistics import OfferOutcome, OfferStatistics
from services.dispatch.service_layer.ports import Clock


@dataclass
class OpenOffer:
    """An offer awaiting its answer (or, once accepted, its assignment)."""

    offer: Offer
    backstop: asyncio.TimerHandle | None


class OpenOffers:
    """Every offer made and not yet ended, and the count of how offers end."""

    def __init__(
        self,
        *,
        index: CourierIndex,
        terms: OfferTerms,
        stats: OfferStatistics,
        clock: Clock,
        unanswered: Callable[[str], None],
    ) -> None:
        self._index, self._terms, self._stats, self._clock = index, terms, stats, clock
        self._unanswered = unanswered
        self._open: dict[str, OpenOffer] = {}

    def __contains__(self, offer_id: object) -> bool:
        return offer_id in self._open

    def __iter__(self) -> Iterator[Offer]:
        """A copy: ending an offer while iterating is fine."""
        return iter([entry.offer for entry in self._open.values()])

    def record(self, outcome: OfferOutcome) -> None:
        self._stats.record(outcome)
        metrics.OFFERS.labels(outcome.value).inc()

    def track(self, offer: Offer, *, answerable: bool = True) -> None:
        """Hold the courier for `offer`; an answerable one gets its backstop timer."""
        self._index.hold(offer.courier_id, offer.offer_id)
        timer = None
        if answerable:
            delay = (self._terms.backstop(offer) - self._clock()).total_seconds()
            timer = asyncio.get_running_loop().call_later(
                max(0.0, delay), self._unanswered, offer.offer_id
            )
        self._open[offer.offer_id] = OpenOffer(offer, timer)

    def accepted(self, offer_id: str) -> None:
        """The courier accepted: no backstop any more, the assignment decides."""
        entry = self._open.get(offer_id)
        if entry is not None and entry.backstop is not None:
            entry.backstop.cancel()
            entry.backstop = None

    def end(self, offer_id: str, outcome: OfferOutcome) -> Offer | None:
        """Close an open offer and release its courier; None if it was not open."""
        entry = self._open.pop(offer_id, None)
        if entry is None:
            return None
        if entry.backstop is not None:
            entry.backstop.cancel()
        offer = entry.offer
        if outcome is OfferOutcome.ASSIGNED:
            # Busy until fleet reports otherwise, so no offer races the assignment.
            self._index.assume_assigned(offer.courier_id, offer.delivery_id)
        self._index.release(offer.courier_id, offer_id)
        self.record(outcome)
        return offer

    def get(self, offer_id: str) -> Offer | None:
        entry = self._open.get(offer_id)
        return entry.offer if entry is not None else None

    def close(self) -> None:
        for entry in self._open.values():
            if entry.backstop is not None:
                entry.backstop.cancel()
        self._open.clear()
