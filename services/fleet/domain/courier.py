"""The courier aggregate and its state machine:
OFFLINE ⇄ IDLE → OFFERED → (accepted) → ASSIGNED → DELIVERING → IDLE, with OFFERED → IDLE
on decline, expiry or withdrawal, and ASSIGNED/DELIVERING → IDLE when taken back.

Couriers are immutable; every command returns a Change (the state before and after,
with the version grown by one) or None when it changes nothing, which is what makes a
repeated command harmless. An accepted offer or a delivery "commits" the courier: it is
kept across disconnects and the courier cannot go offline until it is resolved.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from services.fleet.domain.errors import (
    CourierInvalidState,
    NotOfferable,
    OfferExpired,
    OfferNotHeld,
)
from services.fleet.domain.values import (
    CourierStatus,
    HeldDelivery,
    HeldOffer,
    ShiftEnd,
    VehicleType,
)

OFFLINE, IDLE = CourierStatus.OFFLINE, CourierStatus.IDLE


@dataclass(frozen=True, slots=True)
class Change:
    """One versioned change of a courier, and the shift it starts or ends, if any."""

    before: Courier | None
    after: Courier
    shift_started: VehicleType | None = None
    shift_ended: ShiftEnd | None = None

    @property
    def previous_status(self) -> CourierStatus | None:
        return self.before.status if self.before is not None else None


@dataclass(frozen=True, slots=True)
class Courier:
    """A courier's profile and the state that must survive reconnects and restarts."""

    courier_id: str
    status: CourierStatus
    vehicle: VehicleType | None
    session_id: str
    connected: bool
    version: int
    created_at: datetime
    updated_at: datetime
    offer: HeldOffer | None = None
    delivery: HeldDelivery | None = None

    @classmethod
    def first_connect(cls, courier_id: str, session_id: str, now: datetime) -> Change:
        created = cls(courier_id, OFFLINE, None, session_id, True, 1, now, now)
        return Change(None, created)

    @property
    def committed(self) -> bool:
        """Holds a delivery, or an accepted offer that is about to become one."""
        return self.delivery is not None or (self.offer is not None and self.offer.accepted)

    def _change(self, now: datetime, **fields: Any) -> Change:
        return self._shift_change(now, None, None, **fields)

    def _shift_change(
        self, now: datetime, started: VehicleType | None, ended: ShiftEnd | None, **fields: Any
    ) -> Change:
        after = replace(self, version=self.version + 1, updated_at=now, **fields)
        return Change(self, after, started, ended)

    def connect(self, session_id: str, now: datetime, *, resume: bool) -> Change:
        """A new session; a fresh start (not `resume`) drops whatever is not committed."""
        if resume or self.committed or self.status is OFFLINE:
            return self._change(now, session_id=session_id, connected=True)
        return self._shift_change(
            now,
            None,
            ShiftEnd.DISCONNECTED,
            session_id=session_id,
            connected=True,
            status=OFFLINE,
            offer=None,
        )

    def disconnect(self, now: datetime) -> Change | None:
        return self._change(now, connected=False) if self.connected else None

    def time_out(self, now: datetime, reason: ShiftEnd) -> Change | None:
        """No sign of life: OFFLINE (an unanswered offer goes back), unless committed."""
        if self.committed or self.status is OFFLINE:
            return self.disconnect(now)
        return self._shift_change(now, None, reason, connected=False, status=OFFLINE, offer=None)

    def go_online(self, vehicle: VehicleType, now: datetime) -> Change | None:
        if self.status is OFFLINE:
            return self._shift_change(now, vehicle, None, status=IDLE, vehicle=vehicle)
        if vehicle is self.vehicle:
            return None
        return self._shift_change(now, vehicle, ShiftEnd.VEHICLE_CHANGED, vehicle=vehicle)

    def go_offline(self, now: datetime) -> Change | None:
        if self.committed:
            raise CourierInvalidState(
                self.status, "a courier holding a delivery (or awaiting one) cannot go offline"
            )
        if self.status is OFFLINE:
            return None
        return self._shift_change(now, None, ShiftEnd.WENT_OFFLINE, status=OFFLINE, offer=None)

    def receive_offer(self, offer: HeldOffer, now: datetime) -> Change:
        if self.status is not IDLE or not self.connected:
            raise NotOfferable(self.status)
        return self._change(now, status=CourierStatus.OFFERED, offer=offer)

    def _answerable(self, offer_id: str, now: datetime) -> HeldOffer:
        if self.offer is None or self.offer.offer_id != offer_id:
            raise OfferNotHeld(self.status, offer_id)
        if self.offer.expired(now):
            raise OfferExpired(self.status, offer_id)
        return self.offer

    def accept(self, offer_id: str, now: datetime) -> Change | None:
        """The courier stays OFFERED, committed, until dispatch assigns or cancels."""
        offer = self._answerable(offer_id, now)
        if offer.accepted:
            return None
        return self._change(now, offer=replace(offer, accepted=True))

    def decline(self, offer_id: str, now: datetime) -> Change:
        if self._answerable(offer_id, now).accepted:
            raise CourierInvalidState(self.status, f"offer {offer_id!r} was already accepted")
        return self._change(now, status=IDLE, offer=None)

    def expire_offer(self, offer_id: str, now: datetime) -> Change | None:
        """Give an unanswered offer back; None if it is not held or was accepted."""
        if self.offer is None or self.offer.offer_id != offer_id or self.offer.accepted:
            return None
        return self._change(now, status=IDLE, offer=None)

    def assign(self, delivery: HeldDelivery, now: datetime) -> Change | None:
        if self.delivery is not None and self.delivery.offer_id == delivery.offer_id:
            return None
        if self.offer is None or self.offer.offer_id != delivery.offer_id:
            raise OfferNotHeld(self.status, delivery.offer_id)
        return self._change(now, status=CourierStatus.ASSIGNED, offer=None, delivery=delivery)

    def withdraw(self, offer_id: str, now: datetime) -> Change | None:
        """Take back the offer, or the delivery made from it; None if neither is held."""
        holds_offer = self.offer is not None and self.offer.offer_id == offer_id
        holds_delivery = self.delivery is not None and self.delivery.offer_id == offer_id
        if not (holds_offer or holds_delivery):
            return None
        return self._change(now, status=IDLE, offer=None, delivery=None)

    def delivery_to_pick_up(self, delivery_id: str) -> HeldDelivery:
        return self._held_delivery(delivery_id)

    def picked_up(self, now: datetime) -> Change | None:
        if self.delivery is None or self.delivery.picked_up:
            return None
        delivery = replace(self.delivery, picked_up=True)
        return self._change(now, status=CourierStatus.DELIVERING, delivery=delivery)

    def delivery_to_drop_off(self, delivery_id: str) -> HeldDelivery:
        delivery = self._held_delivery(delivery_id)
        if not delivery.picked_up:
            raise CourierInvalidState(self.status, "confirm the pickup before the drop-off")
        return delivery

    def delivered(self, now: datetime) -> Change:
        return self._change(now, status=IDLE, delivery=None)

    def _held_delivery(self, delivery_id: str) -> HeldDelivery:
        if self.delivery is None or self.delivery.delivery_id != delivery_id:
            raise CourierInvalidState(
                self.status, f"delivery {delivery_id!r} is not assigned to this courier"
            )
        return self.delivery
