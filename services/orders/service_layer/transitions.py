"""State changes of existing deliveries: cancel (owners and ops) and the courier-driven
transitions (dispatch and fleet), each a conditional write on the version it read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.orders.domain.delivery import Delivery, Transition
from services.orders.service_layer.access import Audience
from services.orders.service_layer.commands import (
    AssignCourier,
    CancelDelivery,
    MarkDelivered,
    MarkPickedUp,
)
from services.orders.service_layer.errors import DeliveryChanged, DeliveryNotFound
from services.orders.service_layer.ports import Clock, UnitOfWorkFactory
from services.runtime.context import Caller


@dataclass(frozen=True)
class DeliveryTransitions:
    """Cancel, assign, pick up and deliver; a repeat of a done transition is a no-op."""

    uow: UnitOfWorkFactory
    clock: Clock

    async def cancel(self, caller: Caller, command: CancelDelivery) -> Delivery:
        audience = Audience.of(caller)
        now = self.clock()
        return await self._apply(
            command.delivery_id, lambda d: d.cancel(command.reason, now), audience
        )

    async def assign_courier(self, command: AssignCourier) -> Delivery:
        now = self.clock()
        return await self._apply(command.delivery_id, lambda d: d.assign(command.assignment, now))

    async def mark_picked_up(self, command: MarkPickedUp) -> Delivery:
        now = self.clock()
        return await self._apply(
            command.delivery_id, lambda d: d.mark_picked_up(command.assignment, now)
        )

    async def mark_delivered(self, command: MarkDelivered) -> Delivery:
        now = self.clock()
        return await self._apply(
            command.delivery_id, lambda d: d.mark_delivered(command.assignment, now)
        )

    async def _apply(
        self,
        delivery_id: str,
        change: Callable[[Delivery], Transition],
        audience: Audience | None = None,
    ) -> Delivery:
        """Read, decide in the domain, then write only if nobody changed it meanwhile."""
        async with self.uow() as uow:
            current = await uow.deliveries.get(delivery_id)
            if current is None or (audience is not None and not audience.can_see(current)):
                raise DeliveryNotFound(delivery_id)
            transition = change(current)
            if transition.event is None:
                return transition.delivery
            uow.emit(transition.event)
            if not await uow.replace_and_commit(
                transition.delivery, expected_version=current.version
            ):
                raise DeliveryChanged(delivery_id)
        return transition.delivery
