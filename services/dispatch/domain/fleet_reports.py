"""What a fleet replica reports over its Link, and what orders' delivery events say."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from services.dispatch.domain.couriers import Courier


@dataclass(frozen=True, slots=True)
class Hello:
    """The first message of every Link."""

    fleet_replica_id: str


@dataclass(frozen=True, slots=True)
class SnapshotChunk:
    """Part of a replica's full courier snapshot."""

    snapshot_id: str
    couriers: list[Courier]
    last_chunk: bool


@dataclass(frozen=True, slots=True)
class CourierUpdate:
    """One courier's full state after a change."""

    courier: Courier


# (courier id, latitude, longitude, recorded time in epoch seconds): kept as plain
# tuples because thousands arrive a second.
PositionFix = tuple[str, float, float, float]


@dataclass(frozen=True, slots=True)
class PositionFixes:
    """The latest positions of moving couriers; `fixes` may be read only once."""

    fixes: Iterable[PositionFix]


class AnswerOutcome(StrEnum):
    """How an offer ended on the courier's side."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    UNDELIVERABLE = "undeliverable"


@dataclass(frozen=True, slots=True)
class OfferAnswer:
    """A courier's answer to an offer, or fleet giving up on showing it."""

    offer_id: str
    courier_id: str
    delivery_id: str
    outcome: AnswerOutcome


LinkReport = Hello | SnapshotChunk | CourierUpdate | PositionFixes | OfferAnswer


@dataclass(frozen=True, slots=True)
class DeliveryCancellation:
    """orders cancelled a delivery; courier and offer are set if it was ASSIGNED."""

    delivery_id: str
    courier_id: str
    offer_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class DeliveryAssignment:
    """orders assigned a delivery to a courier's accepted offer."""

    delivery_id: str
    courier_id: str
    offer_id: str
