"""Who may call what, and whose deliveries each caller may see."""

from __future__ import annotations

from dataclasses import dataclass

from services.orders.domain.delivery import Delivery
from services.runtime.context import Caller, Role

# Couriers see deliveries only through offers; ops watch but do not order.
CREATORS = (Role.CUSTOMER, Role.MERCHANT)
READERS = (Role.CUSTOMER, Role.MERCHANT, Role.OPS)


@dataclass(frozen=True, slots=True)
class Audience:
    """Whose deliveries a caller may see: one customer's, one merchant's, or all (both None)."""

    customer_id: str | None = None
    merchant_id: str | None = None

    @classmethod
    def of(cls, caller: Caller) -> Audience:
        if caller.role is Role.CUSTOMER:
            return cls(customer_id=caller.account_id)
        if caller.role is Role.MERCHANT:
            return cls(merchant_id=caller.account_id)
        if caller.role is Role.OPS:
            return cls()
        raise ValueError(f"role {caller.role} sees no deliveries; authorize before asking")

    def can_see(self, delivery: Delivery) -> bool:
        if self.customer_id is not None:
            return delivery.customer_id == self.customer_id
        if self.merchant_id is not None:
            return delivery.merchant_id == self.merchant_id
        return True
