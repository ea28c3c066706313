"""The matching rules, on a Term with fake ports: who gets offers and in which order,
that offers leave only once durable, and how assignments settle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.dispatch.adapters.link_responses import link_response
from services.dispatch.domain.couriers import CourierStatus
from services.dispatch.domain.deliveries import DeliveryTerms, QueueState
from services.dispatch.domain.fleet_messages import (
    AssignmentToCourier,
    CancellationReason,
    OfferToCourier,
    OfferWithdrawal,
)
from services.dispatch.domain.fleet_reports import (
    AnswerOutcome,
    DeliveryCancellation,
    OfferAnswer,
)
from services.dispatch.domain.offers import OfferTerms
from services.dispatch.service_layer.ports import (
    Assigned,
    AssignmentNotSettled,
    NotAssigned,
    QueueRow,
    StoredDelivery,
)
from services.dispatch.service_layer.term import MatchingPolicy, Term
from services.shared_kernel.parcel import ServiceLevel
from tests.unit.dispatch.fakes import (
    T0,
    FakeLease,
    RecordingRoutes,
    ScriptedOrders,
    courier,
    terms,
    until,
)

POLICY = MatchingPolicy(OfferTerms(), max_pickup_meters=5000, sweep_seconds=3600)


class Matching:
    """A term under test and its fakes."""

    def __init__(self, orders: ScriptedOrders, lease: FakeLease | None = None) -> None:
        self.lease = lease or FakeLease()
        self.routes = RecordingRoutes()
        self.orders = orders
        self.term = Term(self.lease, self.routes, orders, POLICY, lambda: datetime.now(UTC))

    def enqueue(self, delivery: DeliveryTerms) -> None:
        self.term.enqueue(delivery, delivery.created_at)

    def offers(self) -> list[OfferToCourier]:
        return self.routes.of(OfferToCourier)

    async def offer_number(self, count: int) -> OfferToCourier:
        def made() -> OfferToCourier | None:
            offers = self.offers()
            return offers[count - 1] if len(offers) >= count else None

        return await until(made, f"offer number {count}")

    def answer(self, offer: OfferToCourier, outcome: AnswerOutcome) -> None:
        o = offer.offer
        self.term.answers.handle(
            "r1", OfferAnswer(o.offer_id, o.courier_id, o.delivery_id, outcome)
        )


@pytest.fixture
def orders() -> ScriptedOrders:
    return ScriptedOrders()


@pytest.fixture
async def matching(orders: ScriptedOrders) -> AsyncIterator[Matching]:
    running = Matching(orders)
    running.term.take_over([])
    yield running
    await running.term.end()


async def test_express_deliveries_are_offered_first_then_the_oldest(matching: Matching) -> None:
    matching.term.fleet.snapshot("r1", [courier(f"c{n}", status=CourierStatus.OFFLINE)
                                        for n in range(3)])  # fmt: skip
    matching.enqueue(terms("old", minutes_ago=10))
    matching.enqueue(terms("express", level=ServiceLevel.EXPRESS, minutes_ago=1))
    matching.enqueue(terms("new", minutes_ago=5))
    for number in range(3):
        matching.term.fleet.changed(courier(f"c{number}", version=2))
    await until(lambda: len(matching.offers()) == 3, "three offers")
    assert [o.offer.delivery_id for o in matching.offers()] == ["express", "old", "new"]


async def test_the_nearest_courier_gets_the_offer(matching: Matching) -> None:
    matching.term.fleet.snapshot("r1", [courier("far", north=0.02), courier("near")])
    matching.enqueue(terms("d1"))
    offer = await matching.offer_number(1)
    assert offer.offer.courier_id == "near"
    assert 100 < offer.offer.pickup_distance_meters < 120
    assert offer.offer.payout.amount_minor == 800


async def test_a_courier_holds_one_offer_at_a_time(matching: Matching) -> None:
    matching.term.fleet.snapshot("r1", [courier("c1")])
    matching.enqueue(terms("d1"))
    matching.enqueue(terms("d2"))
    first = await matching.offer_number(1)
    assert matching.term.queue.get("d2").state is QueueState.WAITING  # type: ignore[union-attr]
    matching.answer(first, AnswerOutcome.DECLINED)
    second = await matching.offer_number(2)
    assert (second.offer.delivery_id, second.offer.courier_id) == ("d2", "c1")


async def test_a_decliner_is_never_offered_the_delivery_again(matching: Matching) -> None:
    matching.term.fleet.snapshot("r1", [courier("c1")])
    matching.enqueue(terms("d1"))
    matching.answer(await matching.offer_number(1), AnswerOutcome.DECLINED)
    matching.term.fleet.changed(courier("c1", version=3))
    matching.term.desk.match_waiting()
    waiting = QueueRow("d1", QueueState.WAITING, 1, frozenset({"c1"}))
    await until(lambda: matching.lease.rows.get("d1") == waiting, "the decline persisted")
    # Offers leave only after the write, so only now could a second one have been sent.
    assert len(matching.offers()) == 1


async def test_an_offer_is_sent_only_once_it_is_durable(matching: Matching) -> None:
    matching.lease.gate.clear()
    matching.term.fleet.snapshot("r1", [courier("c1")])
    matching.enqueue(terms("d1"))
    assert matching.term.queue.get("d1").state is QueueState.OFFERED  # type: ignore[union-attr]
    assert matching.offers() == []
    matching.lease.gate.set()
    await matching.offer_number(1)
    assert matching.lease.rows["d1"].state is QueueState.OFFERED


async def test_an_accepted_offer_becomes_an_assignment_with_the_contacts(
    matching: Matching,
) -> None:
    matching.term.fleet.snapshot("r1", [courier("c1")])
    matching.enqueue(terms("d1"))
    offer = await matching.offer_number(1)
    matching.answer(offer, AnswerOutcome.ACCEPTED)
    [assignment] = await until(lambda: matching.routes.of(AssignmentToCourier), "assignment")
    assert matching.orders.calls == [("d1", "c1", offer.offer.offer_id)]
    assert assignment.delivery.pickup.contact is not None
    assert "d1" not in matching.term.queue
    await until(lambda: "d1" in matching.lease.removed, "d1 removed from the persisted queue")


async def test_a_cancel_during_the_assignment_takes_it_back_even_if_orders_assigned(
    orders: ScriptedOrders, matching: Matching
) -> None:
    orders.gate.clear()
    matching.term.fleet.snapshot("r1", [courier("c1")])
    matching.enqueue(terms("d1"))
    matching.answer(await matching.offer_number(1), AnswerOutcome.ACCEPTED)
    await until(lambda: orders.calls, "the assignment call")
    matching.term.cancel(DeliveryCancellation("d1", "c1", "o?", "changed my mind"))
    orders.gate.set()
    [withdrawal] = await until(lambda: matching.routes.of(OfferWithdrawal), "a withdrawal")
    assert withdrawal.reason is CancellationReason.DELIVERY_CANCELLED
    assert matching.routes.of(AssignmentToCourier) == []


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ("DELIVERY_STATUS_CANCELLED", CancellationReason.DELIVERY_CANCELLED),
        ("DELIVERY_STATUS_ASSIGNED", CancellationReason.NOT_ASSIGNED),
    ],
)
async def test_a_refused_assignment_withdraws_the_offer_and_drops_the_delivery(
    state: str, reason: CancellationReason
) -> None:
    matching = Matching(ScriptedOrders(NotAssigned(state)))
    matching.term.take_over([])
    try:
        matching.term.fleet.snapshot("r1", [courier("c1")])
        matching.enqueue(terms("d1"))
        matching.answer(await matching.offer_number(1), AnswerOutcome.ACCEPTED)
        [withdrawal] = await until(lambda: matching.routes.of(OfferWithdrawal), "a withdrawal")
        assert withdrawal.reason is reason
        assert "d1" not in matching.term.queue
    finally:
        await matching.term.end()


async def test_an_unsettled_assignment_is_asked_again_until_orders_decides() -> None:
    orders = ScriptedOrders(AssignmentNotSettled("UNAVAILABLE"), Assigned(T0))
    matching = Matching(orders)
    matching.term.take_over([])
    try:
        matching.term.fleet.snapshot("r1", [courier("c1")])
        matching.enqueue(terms("d1"))
        matching.answer(await matching.offer_number(1), AnswerOutcome.ACCEPTED)
        await until(lambda: matching.routes.of(AssignmentToCourier), "the assignment")
        assert len(orders.calls) == 2
        assert len(set(orders.calls)) == 1  # the same delivery, courier and offer
    finally:
        await matching.term.end()


async def test_a_successor_expires_offers_the_snapshot_does_not_show_and_reruns_assignments(
    orders: ScriptedOrders,
) -> None:
    expires = datetime.now(UTC) + timedelta(seconds=20)
    stored = [
        StoredDelivery(terms("offered"), T0, QueueRow(
            "offered", QueueState.OFFERED, 1, frozenset(), "o1", "c1", "r1", T0, expires)),
        StoredDelivery(terms("assigning"), T0, QueueRow(
            "assigning", QueueState.ASSIGNING, 1, frozenset(), "o2", "c2", "r1", T0, expires)),
    ]  # fmt: skip
    matching = Matching(orders, FakeLease(stored))
    matching.term.take_over(stored)
    try:
        await until(lambda: ("assigning", "c2", "o2") in orders.calls, "the assignment re-run")
        holding = courier("c2", status=CourierStatus.OFFERED, offer_id="o2")
        matching.term.fleet.snapshot("r1", [courier("c1"), courier("c3", north=0.01), holding])
        [expired] = await until(lambda: matching.routes.of(OfferWithdrawal), "a withdrawal")
        assert (expired.offer_id, expired.reason) == ("o1", CancellationReason.EXPIRED)
        offer = await matching.offer_number(1)
        assert (offer.offer.delivery_id, offer.offer.courier_id) == ("offered", "c3")
    finally:
        await matching.term.end()


async def test_an_offer_carries_the_trace_of_its_delivery_on_to_fleet(matching: Matching) -> None:
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    traced = {"traceparent": f"00-{trace_id}-b7ad6b7169203331-01"}
    matching.term.fleet.snapshot("r1", [courier("c1")])
    matching.enqueue(replace(terms("d1"), trace_context=traced))

    offer = await matching.offer_number(1)
    sent = link_response(offer).offer.trace_context

    assert offer.trace_context["traceparent"].split("-")[1] == trace_id
    assert dict(sent) == dict(offer.trace_context)
