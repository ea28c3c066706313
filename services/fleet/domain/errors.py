"""The courier's state does not allow what was asked: FAILED_PRECONDITION (INVALID_STATE)
with the courier's status in the ErrorInfo metadata."""

from __future__ import annotations

from services.fleet.domain.values import CourierStatus
from services.runtime.errors import FailedPrecondition


class CourierInvalidState(FailedPrecondition):
    """Base of every refusal that depends on the courier's current state."""

    def __init__(self, status: CourierStatus, message: str) -> None:
        super().__init__(
            message, reason="INVALID_STATE", metadata={"current_state": status.contract_name}
        )


class OfferNotHeld(CourierInvalidState):
    """An answer to an offer the courier does not hold (any more)."""

    def __init__(self, status: CourierStatus, offer_id: str) -> None:
        super().__init__(status, f"offer {offer_id!r} is not held by this courier")


class OfferExpired(CourierInvalidState):
    """An answer that arrived after the offer's deadline; the offer is given back."""

    def __init__(self, status: CourierStatus, offer_id: str) -> None:
        super().__init__(status, f"offer {offer_id!r} expired before the answer arrived")


class NotOfferable(CourierInvalidState):
    """The courier cannot be shown an offer now (not IDLE or not connected)."""

    def __init__(self, status: CourierStatus) -> None:
        super().__init__(status, "only a connected IDLE courier can be offered a delivery")
