"""The matching rules as tables: each row is one input to the board and the effects it
asks for, in order (no event loop, no database; see board_tables for the words)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from services.dispatch.domain.board import Board
from services.dispatch.domain.couriers import CourierStatus
from services.dispatch.domain.deliveries import QueueState
from services.dispatch.domain.effects import ArmTimer, Effect, Send
from services.dispatch.domain.fleet_messages import AssignmentToCourier
from services.dispatch.domain.fleet_reports import (
    AnswerOutcome,
    DeliveryAssignment,
    DeliveryCancellation,
    OfferAnswer,
)
from services.dispatch.domain.offers import Offer
from services.dispatch.domain.queue_rows import QueueRow, StoredDelivery
from services.dispatch.domain.statistics import OfferOutcome
from services.dispatch.domain.verdicts import Assigned, NotAssigned
from services.shared_kernel.parcel import ServiceLevel
from tests.unit.dispatch.board_tables import NOW, TERMS, new_board, said
from tests.unit.dispatch.fakes import T0, courier, terms

Step = tuple[Callable[[Board], list[Effect]], list[str]]


def play(board: Board, table: list[Step]) -> None:
    """Feed each row's input and compare the effects, row by row."""
    for number, (feed, expected) in enumerate(table, start=1):
        assert said(feed(board)) == expected, f"row {number}"


def created(delivery_id: str, **options: object) -> Callable[[Board], list[Effect]]:
    delivery = terms(delivery_id, **options)  # type: ignore[arg-type]
    return lambda board: board.delivery_created(delivery, delivery.created_at, NOW)


def answered(
    offer_id: str, courier_id: str, delivery_id: str, outcome: AnswerOutcome
) -> Callable[[Board], list[Effect]]:
    answer = OfferAnswer(offer_id, courier_id, delivery_id, outcome)
    return lambda board: board.offer_answered("r1", answer, NOW)


def open_offer(board: Board, offer_id: str) -> Offer:
    for delivery in board.oldest(100):
        if delivery.offer is not None and delivery.offer.offer_id == offer_id:
            return delivery.offer
    raise AssertionError(f"{offer_id} is not open")


def settled(offer_id: str, verdict: Assigned | NotAssigned) -> Callable[[Board], list[Effect]]:
    return lambda board: board.assignment_settled(open_offer(board, offer_id), verdict, NOW)


def snapshot(*couriers: object) -> Callable[[Board], list[Effect]]:
    return lambda board: board.snapshot("r1", list(couriers), NOW)  # type: ignore[arg-type]


def idle(courier_id: str) -> Callable[[Board], list[Effect]]:
    """The courier turned IDLE (a newer version than the snapshot's)."""
    return lambda board: board.courier_changed(courier(courier_id, version=2), NOW)


def offered(offer_id: str, delivery_id: str, courier_id: str, declined_by: str = "") -> list[str]:
    """What making an offer asks for: its backstop, the count, the row, then the send."""
    declined = f" declined by {declined_by}" if declined_by else ""
    return [
        f"arm {offer_id}",
        "count offered",
        f"persist {delivery_id} OFFERED {offer_id} to {courier_id}{declined}",
        f"offer {offer_id} of {delivery_id} to {courier_id}",
    ]


def accepted(offer_id: str, delivery_id: str, courier_id: str) -> list[str]:
    return [
        "count accepted",
        f"disarm {offer_id}",
        f"persist {delivery_id} ASSIGNING {offer_id} to {courier_id}",
        f"AssignCourier {offer_id}",
    ]


def test_the_nearest_eligible_courier_gets_the_offer_on_the_offer_terms() -> None:
    board = new_board()
    play(board, [
        (snapshot(courier("far", north=0.02), courier("near")), []),
        (created("d1"), offered("o1", "d1", "near")),
    ])  # fmt: skip
    offer = open_offer(board, "o1")
    assert 100 < offer.pickup_distance_meters < 120
    assert offer.payout.amount_minor == 800
    assert offer.expires_at == NOW + TERMS.ttl


def test_a_courier_beyond_the_pickup_radius_is_not_offered_the_delivery() -> None:
    play(new_board(max_pickup_meters=1000), [
        (snapshot(courier("far", north=0.02)), []),
        (created("d1"), []),
        (lambda board: board.sweep(NOW), []),
    ])  # fmt: skip


def test_express_deliveries_are_offered_first_then_the_longest_waiting() -> None:
    offline = [courier(f"c{n}", status=CourierStatus.OFFLINE) for n in range(3)]
    play(new_board(), [
        (snapshot(*offline), []),
        (created("old", minutes_ago=10), []),
        (created("express", level=ServiceLevel.EXPRESS, minutes_ago=1), []),
        (created("new", minutes_ago=5), []),
        (idle("c0"), offered("o1", "express", "c0")),
        (idle("c1"), offered("o2", "old", "c1")),
        (idle("c2"), offered("o3", "new", "c2")),
    ])  # fmt: skip


def test_a_courier_holds_one_offer_and_the_queue_waits_for_them_to_be_idle() -> None:
    play(new_board(), [
        (snapshot(courier("c1")), []),
        (created("d1"), offered("o1", "d1", "c1")),
        (created("d2"), []),
        (answered("o1", "c1", "d1", AnswerOutcome.DECLINED), [
            "disarm o1", "count declined", *offered("o2", "d2", "c1"),
            "persist d1 WAITING declined by c1",
        ]),
    ])  # fmt: skip


def test_a_decliner_is_never_offered_the_delivery_again() -> None:
    play(new_board(), [
        (snapshot(courier("c1")), []),
        (created("d1"), offered("o1", "d1", "c1")),
        (answered("o1", "c1", "d1", AnswerOutcome.DECLINED),
         ["disarm o1", "count declined", "persist d1 WAITING declined by c1"]),
        (lambda b: b.courier_changed(courier("c1", version=3), NOW), []),
        (lambda b: b.sweep(NOW), []),
        (snapshot(courier("c1", version=4), courier("c2", north=0.01)),
         offered("o2", "d1", "c2", declined_by="c1")),
    ])  # fmt: skip


def test_an_expired_answer_skips_the_courier_once_but_not_for_good() -> None:
    play(new_board(), [
        (snapshot(courier("c1")), []),
        (created("d1"), offered("o1", "d1", "c1")),
        (answered("o1", "c1", "d1", AnswerOutcome.EXPIRED),
         ["disarm o1", "count timed_out", "persist d1 WAITING"]),
        (lambda b: b.sweep(NOW), offered("o2", "d1", "c1")),
    ])  # fmt: skip


def test_the_backstop_gives_an_unanswered_offer_to_the_next_courier() -> None:
    board = new_board()
    play(board, [(snapshot(courier("c1"), courier("c2", north=0.01)), [])])
    effects = created("d1")(board)
    assert said(effects) == offered("o1", "d1", "c1")
    assert effects[0] == ArmTimer("o1", NOW + TERMS.ttl + TERMS.grace)
    play(board, [
        (lambda b: b.offer_expired("o1", NOW + timedelta(seconds=22)), [
            "withdraw o1 from c1 via r1: expired", "count timed_out", *offered("o2", "d1", "c2"),
        ]),
        (lambda b: b.offer_expired("o1", NOW + timedelta(seconds=23)), []),
    ])  # fmt: skip


def test_an_accepted_offer_becomes_an_assignment_with_the_contacts() -> None:
    board = new_board()
    play(board, [
        (snapshot(courier("c1")), []),
        (created("d1"), offered("o1", "d1", "c1")),
        (answered("o1", "c1", "d1", AnswerOutcome.ACCEPTED), accepted("o1", "d1", "c1")),
        (answered("o1", "c1", "d1", AnswerOutcome.ACCEPTED), []),
    ])  # fmt: skip
    effects = settled("o1", Assigned(NOW))(board)
    assert said(effects) == ["count assigned", "assign d1 to c1 via r1", "forget d1"]
    [send] = [e for e in effects if isinstance(e, Send)]
    assert isinstance(send.message, AssignmentToCourier)
    assert send.message.delivery.pickup.contact is not None
    assert board.queue_length() == 0


def test_a_cancel_that_races_the_assignment_takes_it_back_even_if_orders_assigned() -> None:
    cancel = DeliveryCancellation("d1", "c1", "o1", "changed my mind")
    play(new_board(), [
        (snapshot(courier("c1")), []),
        (created("d1"), offered("o1", "d1", "c1")),
        (answered("o1", "c1", "d1", AnswerOutcome.ACCEPTED), accepted("o1", "d1", "c1")),
        (lambda b: b.delivery_cancelled(cancel, NOW), []),
        (settled("o1", Assigned(NOW)),
         ["count assigned", "withdraw o1 from c1 via r1: delivery_cancelled", "forget d1"]),
    ])  # fmt: skip


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ("DELIVERY_STATUS_CANCELLED", "delivery_cancelled"),
        ("DELIVERY_STATUS_ASSIGNED", "not_assigned"),
    ],
)
def test_a_refused_assignment_withdraws_the_offer_and_drops_the_delivery(
    state: str, reason: str
) -> None:
    play(new_board(), [
        (snapshot(courier("c1")), []),
        (created("d1"), offered("o1", "d1", "c1")),
        (answered("o1", "c1", "d1", AnswerOutcome.ACCEPTED), accepted("o1", "d1", "c1")),
        (settled("o1", NotAssigned(state)),
         [f"withdraw o1 from c1 via r1: {reason}", "count assignment_failed", "forget d1"]),
    ])  # fmt: skip


def test_a_cancelled_delivery_is_dropped_and_its_offer_withdrawn() -> None:
    cancel = DeliveryCancellation("d1", "", "", "changed my mind")
    play(new_board(), [
        (snapshot(courier("c1")), []),
        (created("d1"), offered("o1", "d1", "c1")),
        (created("d2"), []),
        (lambda b: b.delivery_cancelled(cancel, NOW), [
            "withdraw o1 from c1 via r1: delivery_cancelled", "disarm o1", "count cancelled",
            *offered("o2", "d2", "c1"), "forget d1",
        ]),
        (answered("o1", "c1", "d1", AnswerOutcome.ACCEPTED),
         ["withdraw o1 from c1 via r1: expired"]),
    ])  # fmt: skip


def test_a_cancel_after_the_assignment_reaches_the_courier_through_their_replica_now() -> None:
    play(new_board(), [
        (snapshot(courier("c1")), []),
        (created("d1"), offered("o1", "d1", "c1")),
        (answered("o1", "c1", "d1", AnswerOutcome.ACCEPTED), accepted("o1", "d1", "c1")),
        (settled("o1", Assigned(NOW)), ["count assigned", "assign d1 to c1 via r1", "forget d1"]),
        (lambda b: b.courier_changed(courier("c1", replica="r2", version=5,
                                             status=CourierStatus.ASSIGNED, delivery_id="d1"), NOW),
         []),
        (lambda b: b.delivery_cancelled(DeliveryCancellation("d1", "c1", "o1", "late"), NOW),
         ["withdraw o1 from c1 via r2: delivery_cancelled"]),
        (lambda b: b.delivery_cancelled(DeliveryCancellation("d9", "c7", "o9", "late"), NOW),
         ["withdraw o9 from c7 via ?: delivery_cancelled"]),
    ])  # fmt: skip


def test_an_assignment_through_a_rival_offer_ends_ours() -> None:
    play(new_board(), [
        (snapshot(courier("c1")), []),
        (created("d1"), offered("o1", "d1", "c1")),
        (lambda b: b.delivery_assigned(DeliveryAssignment("d1", "c9", "old-offer"), NOW),
         ["withdraw o1 from c1 via r1: withdrawn", "disarm o1", "count assignment_failed",
          "forget d1"]),
    ])  # fmt: skip


def test_an_assignment_of_our_own_offer_reported_before_the_answer_settles_it() -> None:
    play(new_board(), [
        (snapshot(courier("c1")), []),
        (created("d1"), offered("o1", "d1", "c1")),
        (lambda b: b.delivery_assigned(DeliveryAssignment("d1", "c1", "o1"), NOW),
         accepted("o1", "d1", "c1")),
    ])  # fmt: skip


def test_an_unreachable_replica_makes_the_offer_undeliverable_and_it_goes_on() -> None:
    play(new_board(), [
        (snapshot(courier("c1"), courier("c2", north=0.01)), []),
        (created("d1"), offered("o1", "d1", "c1")),
        (lambda b: b.offer_undelivered("o1", NOW),
         ["disarm o1", "count undeliverable", *offered("o2", "d1", "c2")]),
    ])  # fmt: skip


def test_couriers_of_a_replica_whose_link_closed_or_has_not_snapshotted_get_no_offers() -> None:
    play(new_board(), [
        (snapshot(courier("c1")), []),
        (lambda b: b.link_closed("r1"), []),
        (created("d1"), []),
        (lambda b: b.link_opened("r1"), []),
        (lambda b: b.courier_changed(courier("c1", version=2), NOW), []),
        (snapshot(courier("c1", version=2)), offered("o1", "d1", "c1")),
    ])  # fmt: skip


def test_positions_move_couriers_of_their_own_replica_only() -> None:
    board = new_board()
    board.snapshot("r1", [courier("c1")], NOW)
    fixes = [("c1", 52.6, 13.5, 2.0), ("c1", 52.7, 13.5, 1.5), ("ghost", 52.6, 13.5, 2.0)]
    assert said(board.positions("r1", fixes, 3.0)) == ["indexed 1 positions"]
    assert said(board.positions("r2", [("c1", 52.6, 13.5, 4.0)], 5.0)) == ["indexed 0 positions"]


def test_a_snapshot_puts_offers_and_assignments_right_with_what_couriers_hold() -> None:
    play(new_board(), [
        (snapshot(courier("c1"), courier("c2", north=0.01)), []),
        (created("d1"), offered("o1", "d1", "c1")),
        (answered("o1", "c1", "d1", AnswerOutcome.ACCEPTED), accepted("o1", "d1", "c1")),
        (settled("o1", Assigned(NOW)), ["count assigned", "assign d1 to c1 via r1", "forget d1"]),
        (created("d2"), offered("o2", "d2", "c2")),
        # The replica came back: c1 never got the assignment, c2 lost the offer, c3
        # holds an offer nobody here knows.
        (snapshot(courier("c1", status=CourierStatus.OFFERED, offer_id="o1"), courier("c2"),
                  courier("c3", status=CourierStatus.OFFERED, offer_id="zombie")),
         ["withdraw o2 from c2 via r1: expired", "disarm o2", "count timed_out",
          "persist d2 WAITING",
          "assign d1 to c1 via r1", "withdraw zombie from c3 via r1: withdrawn",
          *offered("o3", "d2", "c2")]),
    ])  # fmt: skip


def test_a_successor_expires_offers_the_snapshot_does_not_show_and_reruns_assignments() -> None:
    expires = NOW + timedelta(seconds=20)
    traced = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    stored = [
        StoredDelivery(replace(terms("offered"), trace_context=traced), T0, QueueRow(
            "offered", QueueState.OFFERED, 1, frozenset(), "p1", "c1", "r1", T0, expires)),
        StoredDelivery(terms("assigning"), T0, QueueRow(
            "assigning", QueueState.ASSIGNING, 1, frozenset(), "p2", "c2", "r1", T0, expires)),
        StoredDelivery(terms("waiting"), T0, QueueRow(
            "waiting", QueueState.WAITING, 2, frozenset({"c3"}))),
    ]  # fmt: skip
    board = new_board()
    play(board, [
        (lambda b: b.take_over(stored), ["arm p1", "AssignCourier p2"]),
        (snapshot(courier("c1"), courier("c3", north=0.01),
                  courier("c2", status=CourierStatus.OFFERED, offer_id="p2")),
         # c1, let go, takes the waiting delivery; the expired one goes to the next nearest.
         ["withdraw p1 from c1 via r1: expired", "disarm p1", "count timed_out",
          *offered("o1", "waiting", "c1", declined_by="c3"), *offered("o2", "offered", "c3")]),
    ])  # fmt: skip
    # The delivery's trace, persisted with it, goes on with the successor's offer.
    delivery = board.delivery("offered")
    assert delivery is not None
    assert delivery.offer is not None
    assert dict(delivery.terms.trace_context) == traced


def test_the_statistics_count_how_offers_ended_since_the_term_began() -> None:
    board = new_board()
    play(board, [
        (snapshot(courier("c1")), []),
        (created("d1"), offered("o1", "d1", "c1")),
        (answered("o1", "c1", "d1", AnswerOutcome.DECLINED),
         ["disarm o1", "count declined", "persist d1 WAITING declined by c1"]),
    ])  # fmt: skip
    assert board.statistics.started_at == T0
    assert dict(board.statistics.counts) == {OfferOutcome.OFFERED: 1, OfferOutcome.DECLINED: 1}
    assert board.courier_counts()[CourierStatus.IDLE] == 1
    assert board.courier_count_of("r1") == 1
