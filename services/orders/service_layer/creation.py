"""Creating deliveries: pricing (the presented quote, honoured or refused; else a fresh one),
idempotency keys that converge under concurrency, and the delivery.created event in the same
commit."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from services.orders.domain.delivery import Delivery
from services.orders.domain.idempotency import KEY_LIFETIME, IdempotencyRecord
from services.orders.domain.quote import Quote
from services.orders.domain.request import DeliveryRequest
from services.orders.service_layer.commands import CreateDelivery
from services.orders.service_layer.errors import CustomerNotYours, DeliveryNotFound
from services.orders.service_layer.ports import Clock, Pricing, UnitOfWork, UnitOfWorkFactory
from services.runtime.context import Caller, Role
from services.shared_kernel.regions import Regions, shipped_regions


def new_delivery_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Created:
    """The delivery a create call resulted in; `replayed` if its key had created it before."""

    delivery: Delivery
    replayed: bool = False


@dataclass(frozen=True)
class DeliveryCreation:
    """CreateDelivery for customers and merchants (the entrypoint checked the role);
    bulk import creates each item through it too."""

    uow: UnitOfWorkFactory
    pricing: Pricing
    clock: Clock
    new_id: Callable[[], str] = field(default=new_delivery_id)
    regions: Regions = field(default_factory=shipped_regions)

    async def create(self, caller: Caller, command: CreateDelivery) -> Created:
        request, key = command.request, command.idempotency_key
        if caller.role is Role.CUSTOMER and request.customer_id not in (None, caller.account_id):
            raise CustomerNotYours()
        # Refused before the key and the price: a pickup no region serves is never created.
        pickup = request.pickup.point
        region = self.regions.region_of_pickup(
            "delivery.pickup.point", pickup.latitude, pickup.longitude
        )
        fingerprint = request.fingerprint()
        since = self.clock() - KEY_LIFETIME
        if key:
            async with self.uow() as uow:
                earlier = await uow.idempotency_keys.find(caller.account_id, key, since=since)
                if earlier is not None:
                    return await _replay(uow, earlier, fingerprint)
        # Priced outside any transaction: no connection is held while pricing answers.
        quote = await self._price(request)
        now = self.clock()
        customer_id, merchant_id = (
            (caller.account_id, None)
            if caller.role is Role.CUSTOMER
            else (request.customer_id, caller.account_id)
        )
        delivery, created = Delivery.create(
            self.new_id(),
            request,
            quote,
            region=region,
            customer_id=customer_id,
            merchant_id=merchant_id,
            now=now,
        )
        async with self.uow() as uow:
            if key:
                record = IdempotencyRecord(caller.account_id, key, fingerprint, delivery.id, now)
                holder = await uow.idempotency_keys.claim(record, since=since)
                if holder is not None:
                    # A concurrent call with the same key committed first: answer with its
                    # delivery, and let this one's quote and id go unused.
                    return await _replay(uow, holder, fingerprint)
            uow.emit(created)
            await uow.add_and_commit(delivery)
        return Created(delivery)

    async def _price(self, request: DeliveryRequest) -> Quote:
        # A presented quote is honoured or the create is refused, never silently re-priced:
        # the client may have shown that price to someone.
        if request.quote_id:
            return await self.pricing.verify(request.quote_id, request)
        return await self.pricing.quote(request)


async def _replay(uow: UnitOfWork, record: IdempotencyRecord, fingerprint: str) -> Created:
    delivery_id = record.replay_for(fingerprint)
    delivery = await uow.deliveries.get(delivery_id)
    if delivery is None:  # only if someone deleted it by hand; the key outlives nothing else
        raise DeliveryNotFound(delivery_id)
    return Created(delivery, replayed=True)
