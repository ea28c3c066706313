"""The region's shell around a real board, with fake ports and a Link fed in memory:
offers leave only once durable, AssignCourier runs until orders decides and its verdict
goes back to the board, the backstop fires, and offers carry their delivery's trace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from services.dispatch.adapters.link_responses import link_response
from services.dispatch.domain.couriers import Courier, CourierStatus
from services.dispatch.domain.deliveries import DeliveryTerms, QueueState
from services.dispatch.domain.fleet_messages import (
    AssignmentToCourier,
    CancellationReason,
    FleetMessage,
    OfferToCourier,
    OfferWithdrawal,
)
from services.dispatch.domain.fleet_reports import (
    AnswerOutcome,
    DeliveryCancellation,
    Hello,
    LinkReport,
    OfferAnswer,
    SnapshotChunk,
)
from services.dispatch.domain.offers import OfferTerms
from services.dispatch.domain.queue_rows import QueueRow, StoredDelivery
from services.dispatch.domain.verdicts import Assigned, NotAssigned
from services.dispatch.service_layer.link_sessions import LinkRegistry
from services.dispatch.service_layer.ports import AssignmentNotSettled
from services.dispatch.service_layer.region_shell import MatchingPolicy, RegionShell
from tests.unit.dispatch.fakes import T0, FakeLease, ScriptedOrders, courier, terms, until

T = TypeVar("T")
POLICY = MatchingPolicy(OfferTerms(), max_pickup_meters=5000, sweep_seconds=3600)


class Region:
    """A shell under test, its fakes, and one fleet replica ("r1") Linked to it."""

    def __init__(
        self,
        orders: ScriptedOrders,
        lease: FakeLease | None = None,
        policy: MatchingPolicy = POLICY,
    ) -> None:
        self.lease = lease or FakeLease()
        self.orders = orders
        self.shell = RegionShell(
            lease=self.lease, links=LinkRegistry(), orders=orders, policy=policy,
            clock=lambda: datetime.now(UTC),
        )  # fmt: skip
        self.received: list[FleetMessage] = []
        self._reports: asyncio.Queue[LinkReport | None] = asyncio.Queue()
        self._link: asyncio.Task[None] | None = None

    async def link(self, *couriers: Courier) -> None:
        """Open r1's Link with a snapshot of `couriers`, and wait until it is applied."""
        self._link = asyncio.create_task(self._serve())
        self.report(Hello("r1"))
        self.report(SnapshotChunk("s1", list(couriers), last_chunk=True))
        await until(lambda: self.shell.board.courier_count_of("r1") == len(couriers), "snapshot")

    def report(self, report: LinkReport | None) -> None:
        self._reports.put_nowait(report)

    def enqueue(self, delivery: DeliveryTerms) -> None:
        self.shell.delivery_created(delivery, delivery.created_at)

    def answer(self, offer: OfferToCourier, outcome: AnswerOutcome) -> None:
        o = offer.offer
        self.report(OfferAnswer(o.offer_id, o.courier_id, o.delivery_id, outcome))

    def of(self, kind: type[T]) -> list[T]:
        return [message for message in self.received if isinstance(message, kind)]

    async def offer_number(self, count: int) -> OfferToCourier:
        def made() -> OfferToCourier | None:
            offers = self.of(OfferToCourier)
            return offers[count - 1] if len(offers) >= count else None

        return await until(made, f"offer number {count}")

    async def close(self) -> None:
        self.report(None)
        if self._link is not None:
            await self._link
        await self.shell.end()

    async def _serve(self) -> None:
        async def reports() -> AsyncIterator[LinkReport]:
            while (report := await self._reports.get()) is not None:
                yield report

        async for message in self.shell.serve_link(reports()):
            self.received.append(message)


@pytest.fixture
def orders() -> ScriptedOrders:
    return ScriptedOrders()


@pytest.fixture
async def region(orders: ScriptedOrders) -> AsyncIterator[Region]:
    running = Region(orders)
    running.shell.start([])
    yield running
    await running.close()


async def test_an_offer_is_sent_only_once_it_is_durable(region: Region) -> None:
    await region.link(courier("c1"))
    region.lease.gate.clear()
    region.enqueue(terms("d1"))
    delivery = region.shell.board.delivery("d1")
    assert delivery is not None
    assert delivery.state is QueueState.OFFERED
    for _ in range(20):  # let the Link and the journal run: nothing leaves before the write
        await asyncio.sleep(0)
    assert region.of(OfferToCourier) == []
    region.lease.gate.set()
    await region.offer_number(1)
    assert region.lease.rows["d1"].state is QueueState.OFFERED


async def test_an_accepted_offer_is_assigned_through_orders_and_sent_to_the_courier(
    region: Region,
) -> None:
    await region.link(courier("c1"))
    region.enqueue(terms("d1"))
    offer = await region.offer_number(1)
    region.answer(offer, AnswerOutcome.ACCEPTED)
    [assignment] = await until(lambda: region.of(AssignmentToCourier), "the assignment")
    assert region.orders.calls == [("d1", "c1", offer.offer.offer_id)]
    assert assignment.delivery.pickup.contact is not None
    await until(lambda: "d1" in region.lease.removed, "d1 removed from the persisted queue")


async def test_a_decline_is_persisted_and_the_decliner_gets_no_second_offer(region: Region) -> None:
    await region.link(courier("c1"))
    region.enqueue(terms("d1"))
    region.answer(await region.offer_number(1), AnswerOutcome.DECLINED)
    waiting = QueueRow("d1", QueueState.WAITING, 1, frozenset({"c1"}))
    await until(lambda: region.lease.rows.get("d1") == waiting, "the decline persisted")
    assert len(region.of(OfferToCourier)) == 1


async def test_a_cancel_during_the_assignment_takes_it_back_even_if_orders_assigned(
    orders: ScriptedOrders, region: Region
) -> None:
    orders.gate.clear()
    await region.link(courier("c1"))
    region.enqueue(terms("d1"))
    region.answer(await region.offer_number(1), AnswerOutcome.ACCEPTED)
    await until(lambda: orders.calls, "the assignment call")
    region.shell.delivery_cancelled(DeliveryCancellation("d1", "c1", "o?", "changed my mind"))
    orders.gate.set()
    [withdrawal] = await until(lambda: region.of(OfferWithdrawal), "a withdrawal")
    assert withdrawal.reason is CancellationReason.DELIVERY_CANCELLED
    assert region.of(AssignmentToCourier) == []


async def test_a_refused_assignment_withdraws_the_offer() -> None:
    region = Region(ScriptedOrders(NotAssigned("DELIVERY_STATUS_ASSIGNED")))
    region.shell.start([])
    try:
        await region.link(courier("c1"))
        region.enqueue(terms("d1"))
        region.answer(await region.offer_number(1), AnswerOutcome.ACCEPTED)
        [withdrawal] = await until(lambda: region.of(OfferWithdrawal), "a withdrawal")
        assert withdrawal.reason is CancellationReason.NOT_ASSIGNED
        assert region.shell.board.delivery("d1") is None
    finally:
        await region.close()


async def test_an_unsettled_assignment_is_asked_again_until_orders_decides() -> None:
    orders = ScriptedOrders(AssignmentNotSettled("UNAVAILABLE"), Assigned(T0))
    region = Region(orders)
    region.shell.start([])
    try:
        await region.link(courier("c1"))
        region.enqueue(terms("d1"))
        region.answer(await region.offer_number(1), AnswerOutcome.ACCEPTED)
        await until(lambda: region.of(AssignmentToCourier), "the assignment")
        assert len(orders.calls) == 2
        assert len(set(orders.calls)) == 1  # the same delivery, courier and offer
    finally:
        await region.close()


async def test_the_backstop_timer_offers_an_unanswered_delivery_to_the_next_courier() -> None:
    quick = replace(
        POLICY, offer_terms=OfferTerms(ttl=timedelta(milliseconds=50), grace=timedelta(0))
    )
    region = Region(ScriptedOrders(), policy=quick)
    region.shell.start([])
    try:
        await region.link(courier("c1"), courier("c2", north=0.01))
        region.enqueue(terms("d1"))
        first = await region.offer_number(1)
        [expired] = await until(lambda: region.of(OfferWithdrawal), "the first offer withdrawn")
        assert (expired.offer_id, expired.reason) == (
            first.offer.offer_id,
            CancellationReason.EXPIRED,
        )
        second = await region.offer_number(2)
        assert (first.offer.courier_id, second.offer.courier_id) == ("c1", "c2")
    finally:
        await region.close()


async def test_a_successor_reruns_assignments_and_expires_offers_the_snapshot_does_not_show(
    orders: ScriptedOrders,
) -> None:
    expires = datetime.now(UTC) + timedelta(seconds=20)
    stored = [
        StoredDelivery(terms("offered"), T0, QueueRow(
            "offered", QueueState.OFFERED, 1, frozenset(), "o1", "c1", "r1", T0, expires)),
        StoredDelivery(terms("assigning"), T0, QueueRow(
            "assigning", QueueState.ASSIGNING, 1, frozenset(), "o2", "c2", "r1", T0, expires)),
    ]  # fmt: skip
    region = Region(orders, FakeLease(stored))
    region.shell.start(stored)
    try:
        await until(lambda: ("assigning", "c2", "o2") in orders.calls, "the assignment re-run")
        holding = courier("c2", status=CourierStatus.OFFERED, offer_id="o2")
        await region.link(courier("c1"), courier("c3", north=0.01), holding)
        expired = await until(lambda: region.of(OfferWithdrawal), "a withdrawal")
        assert (expired[0].offer_id, expired[0].reason) == ("o1", CancellationReason.EXPIRED)
        offer = await region.offer_number(1)
        assert (offer.offer.delivery_id, offer.offer.courier_id) == ("offered", "c3")
    finally:
        await region.close()


async def test_an_offer_carries_the_trace_of_its_delivery_on_to_fleet(region: Region) -> None:
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    traced = {"traceparent": f"00-{trace_id}-b7ad6b7169203331-01"}
    await region.link(courier("c1"))
    region.enqueue(replace(terms("d1"), trace_context=traced))

    offer = await region.offer_number(1)
    sent = link_response(offer).offer.trace_context

    assert offer.trace_context["traceparent"].split("-")[1] == trace_id
    assert dict(sent) == dict(offer.trace_context)
