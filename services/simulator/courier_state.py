"""What a simulated courier remembers: across reconnects (vehicle, position, errand),
and within one session (messages awaiting an answer, the offer being considered)."""

from __future__ import annotations

import random
import uuid
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from services.shared_kernel.geo import GeoPoint
from services.simulator.city import BoundingBox
from services.simulator.errands import THINKING_SECONDS, Errand, OfferAnswer, OfferedDelivery
from services.simulator.movement import Fix, Traveller
from services.simulator.session_messages import MessageIds
from services.simulator.vehicles import Vehicle

# LocationUpdate carries at most 100 fixes; older ones are dropped first.
MAX_FIXES_PER_UPDATE = 100
# Until fleet says otherwise in SessionStarted.
DEFAULT_HEARTBEAT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class CourierSettings:
    """How every simulated courier behaves."""

    box: BoundingBox
    speedup: float = 10.0
    accept_probability: float = 0.9
    ping_interval: float = 2.0
    # How often couriers move and look at the clock; fixes are taken at this pace.
    tick_seconds: float = 0.5
    thinking_seconds: tuple[float, float] = THINKING_SECONDS


@dataclass
class CourierState:
    """What survives reconnects: the vehicle, the position, the errand in hand."""

    vehicle: Vehicle
    traveller: Traveller
    message_ids: MessageIds
    rng: random.Random
    errand: Errand | None = None
    connected: bool = False
    online: bool = False
    last_offer_id: str = ""

    @classmethod
    def new(
        cls, vehicle: Vehicle, start: GeoPoint, settings: CourierSettings, rng: random.Random
    ) -> CourierState:
        """A courier at `start`, moving at its vehicle's city speed times the speed-up."""
        traveller = Traveller(start, vehicle.city_speed_mps * settings.speedup)
        # Not from the seeded rng: a rerun with the same seed and account must not reuse
        # ids that fleet may still remember (it would answer without applying them).
        return cls(vehicle, traveller, MessageIds(uuid.uuid4().hex[:12]), rng)

    @property
    def busy(self) -> bool:
        return self.errand is not None


class Sent(StrEnum):
    """The kinds of up messages whose Ack or MessageError matters."""

    GO_ONLINE = "go online"
    GO_OFFLINE = "go offline"
    ACCEPT = "accept offer"
    DECLINE = "decline offer"
    CONFIRM = "confirm"


@dataclass(frozen=True, slots=True)
class HeldOffer:
    """An offer being thought about, and the answer due at `due` (monotonic seconds)."""

    offer: OfferedDelivery
    answer: OfferAnswer
    due: float


@dataclass
class SessionState:
    """What one session tracks; a reconnect starts afresh from SessionStarted."""

    started: bool = False
    heartbeat_interval: float = DEFAULT_HEARTBEAT_SECONDS
    # client_message_id -> what it was, and about which delivery (for confirmations).
    awaiting: dict[str, tuple[Sent, str]] = field(default_factory=dict)
    held_offer: HeldOffer | None = None
    go_online_due: float | None = None
    closing_reason: str = ""
    reconnect_after: float | None = None
    fixes: deque[Fix] = field(default_factory=lambda: deque(maxlen=MAX_FIXES_PER_UPDATE))
    last_move: float = 0.0
    last_ping: float = 0.0
    last_sent: float = 0.0
