"""Reading deliveries: one by id, or pages newest first, limited to what the caller may see."""

from __future__ import annotations

from dataclasses import dataclass

from services.orders.domain.delivery import Delivery
from services.orders.service_layer.access import Audience
from services.orders.service_layer.commands import ListDeliveries
from services.orders.service_layer.errors import DeliveryNotFound
from services.orders.service_layer.ports import UnitOfWorkFactory
from services.runtime.context import Caller
from services.runtime.page_tokens import Cursor, PageTokens, page_scope

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    """Deliveries newest first, and the token of the next page ("" on the last)."""

    deliveries: list[Delivery]
    next_page_token: str


@dataclass(frozen=True)
class DeliveryQueries:
    """GetDelivery and ListDeliveries for owners and ops (the entrypoint checked the role)."""

    uow: UnitOfWorkFactory
    page_tokens: PageTokens

    async def get(self, caller: Caller, delivery_id: str) -> Delivery:
        audience = Audience.of(caller)
        async with self.uow() as uow:
            delivery = await uow.deliveries.get(delivery_id)
        if delivery is None or not audience.can_see(delivery):
            raise DeliveryNotFound(delivery_id)
        return delivery

    async def list(self, caller: Caller, query: ListDeliveries) -> DeliveryPage:
        size = min(query.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        scope = page_scope(caller.account_id, caller.role, query.statuses)
        after = self.page_tokens.read(query.page_token, scope) if query.page_token else None
        async with self.uow() as uow:
            # One more than asked, to know whether another page follows.
            found = await uow.deliveries.page(Audience.of(caller), query.statuses, after, size + 1)
        page = found[:size]
        if len(found) <= size:
            return DeliveryPage(page, "")
        last = page[-1]
        return DeliveryPage(page, self.page_tokens.issue(Cursor(last.created_at, last.id), scope))
