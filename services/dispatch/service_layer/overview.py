"""The ops views: the dispatch overview and the queue, page by page, oldest first."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.dispatch.domain.couriers import CourierStatus
from services.dispatch.domain.deliveries import PendingDelivery
from services.dispatch.domain.statistics import OfferStatistics
from services.dispatch.service_layer.link_sessions import LinkSession
from services.dispatch.service_layer.matcher import Matcher

OVERVIEW_HEAD = 20
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# Counted in the overview: every status but OFFLINE, zero counts included.
COUNTED_STATUSES = (
    CourierStatus.IDLE,
    CourierStatus.OFFERED,
    CourierStatus.ASSIGNED,
    CourierStatus.DELIVERING,
)


@dataclass(frozen=True)
class LinkView:
    """One open Link and how many couriers its replica holds."""

    session: LinkSession
    courier_count: int


@dataclass(frozen=True)
class Overview:
    """A point-in-time view of matching."""

    generated_at: datetime
    matcher_replica_id: str
    queue_length: int
    oldest_age: timedelta | None
    oldest: list[PendingDelivery]
    courier_counts: list[tuple[CourierStatus, int]]
    statistics: OfferStatistics
    links: list[LinkView]


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue; `last` is the keyset to continue after, if more remain."""

    deliveries: list[PendingDelivery]
    last: tuple[datetime, str] | None
    total_size: int


class DispatchViews:
    """Figures are live, from the leader's memory; a standby answers UNAVAILABLE."""

    def __init__(self, matcher: Matcher) -> None:
        self._matcher = matcher

    def overview(self, now: datetime) -> Overview:
        board = self._matcher.shell().board
        oldest = board.oldest(OVERVIEW_HEAD)
        counts: Counter[CourierStatus] = board.courier_counts()
        return Overview(
            generated_at=now,
            matcher_replica_id=self._matcher.replica_id,
            queue_length=board.queue_length(),
            oldest_age=now - oldest[0].enqueued_at if oldest else None,
            oldest=oldest,
            courier_counts=[(status, counts[status]) for status in COUNTED_STATUSES],
            statistics=board.statistics,
            links=[
                LinkView(session, board.courier_count_of(session.fleet_replica_id))
                for session in self._matcher.links.sessions()
            ],
        )

    def queue_page(self, after: tuple[datetime, str] | None, page_size: int) -> QueuePage:
        board = self._matcher.shell().board
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        found = board.oldest(size + 1, after=after)
        page = found[:size]
        more = len(found) > size
        return QueuePage(page, page[-1].age_key if more else None, board.queue_length())
