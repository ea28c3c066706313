"""A pending delivery as the row the queue persists, and back again when a new leader
takes the queue over."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.dispatch.domain.deliveries import DeliveryTerms, PendingDelivery, QueueState
from services.dispatch.domain.offers import Offer, OfferTerms


@dataclass(frozen=True, slots=True)
class QueueRow:
    """A pending delivery as persisted, so that a new leader can take over the queue."""

    delivery_id: str
    state: QueueState
    offer_count: int
    declined_by: frozenset[str]
    offer_id: str | None = None
    courier_id: str | None = None
    fleet_replica_id: str | None = None
    offer_created_at: datetime | None = None
    offer_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A persisted pending delivery: its terms, when it was queued, its matching state."""

    terms: DeliveryTerms
    enqueued_at: datetime
    row: QueueRow


def row_of(delivery: PendingDelivery) -> QueueRow:
    offer = delivery.offer
    return QueueRow(
        delivery_id=delivery.delivery_id,
        state=delivery.state,
        offer_count=delivery.offer_count,
        declined_by=frozenset(delivery.declined_by),
        offer_id=offer.offer_id if offer else None,
        courier_id=offer.courier_id if offer else None,
        fleet_replica_id=offer.fleet_replica_id if offer else None,
        offer_created_at=offer.created_at if offer else None,
        offer_expires_at=offer.expires_at if offer else None,
    )


def pending_of(entry: StoredDelivery, offer_terms: OfferTerms) -> PendingDelivery:
    """The stored delivery with its open offer, if the row holds a whole one; otherwise
    it waits to be offered again."""
    row = entry.row
    delivery = PendingDelivery(
        entry.terms, entry.enqueued_at, offer_count=row.offer_count,
        declined_by=set(row.declined_by),
    )  # fmt: skip
    offer = _offer_of(entry, offer_terms)
    if offer is not None:
        delivery.state, delivery.offer = row.state, offer
    return delivery


def _offer_of(entry: StoredDelivery, offer_terms: OfferTerms) -> Offer | None:
    row = entry.row
    if row.state is QueueState.WAITING or row.offer_id is None or row.courier_id is None:
        return None
    if row.offer_created_at is None or row.offer_expires_at is None:
        return None
    return Offer(
        offer_id=row.offer_id, delivery_id=row.delivery_id, courier_id=row.courier_id,
        fleet_replica_id=row.fleet_replica_id or "",
        payout=offer_terms.payout(entry.terms.price),
        pickup_distance_meters=0, delivery_distance_meters=0,
        created_at=row.offer_created_at, expires_at=row.offer_expires_at,
    )  # fmt: skip
