"""What a simulated courier does as time passes: move, answer the offer it holds,
confirm arrivals, go online, report locations, and keep the session alive."""

from __future__ import annotations

import time

from services.simulator import session_messages as messages
from services.simulator.courier_state import CourierSettings, CourierState, Sent, SessionState
from services.simulator.movement import Fix
from services.simulator.observations import Observations

Request = messages.Request


class CourierRoutine:
    """Advances one courier to `now` and returns the up messages that are due."""

    def __init__(
        self,
        state: CourierState,
        session: SessionState,
        settings: CourierSettings,
        observations: Observations,
    ) -> None:
        self._state, self._session = state, session
        self._settings, self._observations = settings, observations

    def begin(self, now: float) -> None:
        self._session.last_move = self._session.last_ping = self._session.last_sent = now

    def due(self, now: float) -> list[Request]:
        self._move(now)
        due = [*self._go_online(now), *self._answer(now), *self._confirm(now)]
        session, state = self._session, self._state
        if (state.online or state.busy) and now - session.last_ping >= self._settings.ping_interval:
            session.last_ping = now
            if session.fixes:
                due.append(messages.location_update(session.fixes))
                session.fixes.clear()
        if not due and now - session.last_sent >= session.heartbeat_interval:
            due.append(messages.heartbeat(state.message_ids.next()))
        if due:
            session.last_sent = now
        return due

    def sign_off(self) -> Request | None:
        """GoOffline, if the courier is online and holds nothing; else leave it to fleet."""
        if not self._state.online or self._state.busy:
            return None
        return self._expecting(Sent.GO_OFFLINE, messages.go_offline)

    def _move(self, now: float) -> None:
        state = self._state
        traveller, errand = state.traveller, state.errand
        if errand is not None:
            traveller.head_for(errand.target)
        elif traveller.arrived:  # idle couriers wander between random waypoints
            traveller.head_for(self._settings.box.random_point(state.rng))
        step = traveller.advance(max(now - self._session.last_move, 0.0))
        self._session.last_move = now
        moving = step.heading_degrees is not None
        speed = traveller.speed_mps if moving else 0.0
        self._session.fixes.append(Fix(step.position, step.heading_degrees, speed, time.time()))

    def _go_online(self, now: float) -> list[Request]:
        session, state = self._session, self._state
        if session.go_online_due is None or now < session.go_online_due:
            return []
        session.go_online_due = None
        fix = session.fixes[-1]
        return [
            self._expecting(Sent.GO_ONLINE, lambda i: messages.go_online(i, state.vehicle, fix))
        ]

    def _answer(self, now: float) -> list[Request]:
        held = self._session.held_offer
        if held is None or now < held.due:
            return []
        self._session.held_offer = None
        offer_id, counters = held.offer.offer_id, self._observations.counters
        if held.answer.accept:
            counters.accepted += 1
            return [self._expecting(Sent.ACCEPT, lambda i: messages.accept(i, offer_id))]
        counters.declined += 1
        reason = held.answer.reason
        assert reason is not None  # a decline always carries one
        return [self._expecting(Sent.DECLINE, lambda i: messages.decline(i, offer_id, reason))]

    def _confirm(self, now: float) -> list[Request]:
        errand = self._state.errand
        if errand is None or errand.awaiting_answer or now < errand.resend_at:
            return []
        if self._state.traveller.position != errand.target:
            return []
        message_id = errand.confirmation_id or self._state.message_ids.next()
        errand.confirmation_sent(message_id)
        self._session.awaiting[message_id] = (Sent.CONFIRM, errand.delivery_id)
        return [messages.confirm(message_id, errand)]

    def _expecting(self, kind: Sent, build: messages.RequestBuilder) -> Request:
        message_id = self._state.message_ids.next()
        self._session.awaiting[message_id] = (kind, "")
        return build(message_id)
