"""Failures the use cases report beyond the domain's own."""

from __future__ import annotations

from services.runtime.errors import Conflict, FieldViolation, InvalidArgument, NotFound


class DeliveryNotFound(NotFound):
    """No such delivery, or not one the caller may see (the two look the same)."""

    def __init__(self, delivery_id: str) -> None:
        super().__init__(f"delivery {delivery_id!r} not found")


class DeliveryChanged(Conflict):
    """Another change committed between this call's read and its conditional write."""

    def __init__(self, delivery_id: str) -> None:
        super().__init__(
            f"delivery {delivery_id} was changed by another call at the same moment "
            "(a cancel, pickup or assignment); read it again before deciding"
        )


class CustomerNotYours(InvalidArgument):
    """A customer named another customer as the delivery's owner."""

    def __init__(self) -> None:
        super().__init__(
            [
                FieldViolation(
                    "delivery.customer_id",
                    "only merchants may name a customer; leave it empty or use your own id",
                )
            ]
        )
