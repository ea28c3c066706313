"""The delivery's state machine over generated command sequences: every command either
changes the delivery by exactly one version with one event, or changes nothing with no
event, or is refused with InvalidState; a repeated command never yields a second event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.orders.domain.delivery import Delivery, DeliveryStatus, InvalidState, Transition
from tests.unit.orders.examples import COURIER, OTHER_COURIER, pending
from tests.unit.orders.fakes import NOW

Command = Callable[[Delivery], Transition]
LATER = NOW + timedelta(minutes=5)
COMMANDS: dict[str, Command] = {
    "assign": lambda d: d.assign(COURIER, LATER),
    "assign another courier": lambda d: d.assign(OTHER_COURIER, LATER),
    "pick up": lambda d: d.mark_picked_up(COURIER, LATER),
    "pick up by another courier": lambda d: d.mark_picked_up(OTHER_COURIER, LATER),
    "deliver": lambda d: d.mark_delivered(COURIER, LATER),
    "cancel": lambda d: d.cancel("changed my mind", LATER),
}
# The statuses each status may move to; anything else is a broken machine.
NEXT = {
    DeliveryStatus.PENDING: {DeliveryStatus.ASSIGNED, DeliveryStatus.CANCELLED},
    DeliveryStatus.ASSIGNED: {DeliveryStatus.PICKED_UP, DeliveryStatus.CANCELLED},
    DeliveryStatus.PICKED_UP: {DeliveryStatus.DELIVERED},
    DeliveryStatus.DELIVERED: set(),
    DeliveryStatus.CANCELLED: set(),
}
commands = st.lists(st.sampled_from(sorted(COMMANDS)), max_size=12)


def apply(delivery: Delivery, name: str) -> Transition | None:
    """The transition, or None when the delivery's state refuses the command."""
    try:
        return COMMANDS[name](delivery)
    except InvalidState as refused:
        refused_in = refused.metadata["current_state"]
    assert refused_in == delivery.status.contract_name
    return None


@given(commands)
def test_each_command_changes_one_version_with_one_event_or_nothing_at_all(
    names: list[str],
) -> None:
    delivery = pending()
    for name in names:
        transition = apply(delivery, name)
        if transition is None:
            continue
        if transition.event is None:
            assert transition.delivery == delivery
        else:
            assert transition.delivery.status in NEXT[delivery.status]
            assert transition.delivery.version == delivery.version + 1
            assert transition.event.version == transition.delivery.version
        delivery = transition.delivery


@given(commands, st.sampled_from(sorted(COMMANDS)))
def test_a_command_repeated_right_after_it_succeeded_yields_no_event(
    names: list[str], repeated: str
) -> None:
    delivery = pending()
    for name in names:
        transition = apply(delivery, name)
        delivery = delivery if transition is None else transition.delivery
    first = apply(delivery, repeated)
    if first is None:
        return
    again = apply(first.delivery, repeated)
    assert again is not None, f"{repeated!r} succeeded once, then was refused"
    assert again.event is None
    assert again.delivery == first.delivery
