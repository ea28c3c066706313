"""How a simulated courier reacts to each message fleet sends down its session."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from lastmile.fleet.v1 import courier_pb2, courier_session_pb2, offer_pb2
from services.simulator import session_messages as messages
from services.simulator.courier_replies import CourierReplies
from services.simulator.courier_state import (
    CourierSettings,
    CourierState,
    HeldOffer,
    SessionState,
)
from services.simulator.errands import answer_offer
from services.simulator.observations import Observations

_OFFLINE = (courier_pb2.COURIER_STATUS_UNSPECIFIED, courier_pb2.COURIER_STATUS_OFFLINE)
_Cancellation = offer_pb2.OfferCancellationReason


class CourierReactions:
    """Updates the courier's state from fleet's messages; sending is the routine's job."""

    def __init__(
        self,
        state: CourierState,
        session: SessionState,
        settings: CourierSettings,
        observations: Observations,
    ) -> None:
        self._state, self._session = state, session
        self._settings, self._observations = settings, observations
        self._replies = CourierReplies(state, session, observations)

    def handle(self, response: courier_session_pb2.ConnectResponse) -> None:
        kind = response.WhichOneof("message")
        if kind == "session_started":
            self._started(response.session_started, response.send_time)
        elif kind == "offer":
            self._offered(response.offer, response.send_time)
        elif kind == "offer_cancellation":
            self._cancelled(response.offer_cancellation)
        elif kind == "assignment":
            self._assigned(response.assignment)
        elif kind == "ack":
            self._replies.acked(response.ack.client_message_id)
        elif kind == "error":
            self._replies.rejected(response.error)
        elif kind == "session_closing":
            self._closing(response.session_closing)

    def _started(self, started: courier_session_pb2.SessionStarted, sent: Timestamp) -> None:
        state, session, now = self._state, self._session, self._observations.clock()
        session.started, state.connected = True, True
        self._observations.session_started()
        interval = started.heartbeat_interval.ToTimedelta().total_seconds()
        session.heartbeat_interval = interval or session.heartbeat_interval
        state.online = started.status not in _OFFLINE
        if not state.online:
            session.go_online_due = now
        self._resume_errand(started)
        if started.HasField("offer"):
            self._offered(started.offer, sent)

    def _resume_errand(self, started: courier_session_pb2.SessionStarted) -> None:
        """fleet's word on the errand wins; a confirmation in flight is re-sent, same id."""
        mine = self._state.errand
        if started.HasField("assignment"):
            theirs = messages.errand(started.assignment)
            if mine is not None and mine.delivery_id == theirs.delivery_id:
                if mine.picked_up == theirs.picked_up:
                    theirs.confirmation_id = mine.confirmation_id
                elif theirs.picked_up:
                    self._observations.picked_up()  # the pickup Ack was lost with the stream
            self._state.errand = theirs
        elif mine is not None:
            if mine.picked_up and mine.confirmation_id:  # the drop-off went through unheard
                self._observations.delivered(mine.delivery_id)
            self._state.errand = None

    def _offered(self, offer: offer_pb2.Offer, sent: Timestamp) -> None:
        offered = messages.offered_delivery(offer, sent)
        if offered.offer_id != self._state.last_offer_id:
            self._state.last_offer_id = offered.offer_id
            self._observations.offer_received(offered.delivery_id)
        settings = self._settings
        answer = answer_offer(
            offered,
            self._state.vehicle,
            settings.accept_probability,
            self._state.rng,
            settings.thinking_seconds,
        )
        due = self._observations.clock() + answer.delay_seconds
        self._session.held_offer = HeldOffer(offered, answer, due)

    def _cancelled(self, cancellation: offer_pb2.OfferCancellation) -> None:
        counters, reason = self._observations.counters, cancellation.reason
        if reason == _Cancellation.OFFER_CANCELLATION_REASON_DELIVERY_CANCELLED:
            self._observations.delivery_cancelled(cancellation.delivery_id)
        elif reason == _Cancellation.OFFER_CANCELLATION_REASON_EXPIRED:
            counters.expired += 1
        elif reason == _Cancellation.OFFER_CANCELLATION_REASON_NOT_ASSIGNED:
            counters.not_assigned += 1
        else:
            counters.withdrawn += 1
        held = self._session.held_offer
        if held is not None and held.offer.offer_id == cancellation.offer_id:
            self._session.held_offer = None
        errand = self._state.errand
        if errand is not None and errand.delivery_id == cancellation.delivery_id:
            self._state.errand = None

    def _assigned(self, assignment: offer_pb2.Assignment) -> None:
        errand = self._state.errand
        if errand is not None and errand.delivery_id == assignment.delivery_id:
            return
        self._observations.assignment_received(assignment.delivery_id)
        self._state.errand = messages.errand(assignment)
        self._session.held_offer = None

    def _closing(self, closing: courier_session_pb2.SessionClosing) -> None:
        reason = courier_session_pb2.SessionClosingReason.Name(closing.reason)
        self._session.closing_reason = reason.removeprefix("SESSION_CLOSING_REASON_")
        if closing.HasField("reconnect_after"):
            self._session.reconnect_after = closing.reconnect_after.ToTimedelta().total_seconds()
