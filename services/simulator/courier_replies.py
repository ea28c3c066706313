"""fleet's replies to what a simulated courier sent: an Ack settles the message, a
MessageError says why it did not go through."""

from __future__ import annotations

import logging

from google.rpc import code_pb2, error_details_pb2, status_pb2

from lastmile.fleet.v1 import courier_session_pb2
from services.simulator.courier_state import CourierState, Sent, SessionState
from services.simulator.observations import Observations

log = logging.getLogger("lastmile.simulator.courier")


class CourierReplies:
    """Applies the reply to a message the courier awaits one for (see `Sent`)."""

    def __init__(
        self, state: CourierState, session: SessionState, observations: Observations
    ) -> None:
        self._state, self._session, self._observations = state, session, observations

    def acked(self, message_id: str) -> None:
        kind, delivery_id = self._session.awaiting.pop(message_id, (None, ""))
        errand = self._state.errand
        if kind is Sent.GO_ONLINE:
            self._state.online = True
        elif kind is Sent.GO_OFFLINE:
            self._state.online = False
        elif kind is Sent.CONFIRM and errand is not None and errand.delivery_id == delivery_id:
            if errand.picked_up:
                self._observations.delivered(delivery_id)
                self._state.errand = None
            else:
                errand.pickup_confirmed()
                self._observations.picked_up()

    def rejected(self, error: courier_session_pb2.MessageError) -> None:
        message_id, status = error.client_message_id, error.status
        kind, delivery_id = self._session.awaiting.pop(message_id, (None, ""))
        self._observations.counters.message_errors += 1
        code = (
            code_pb2.Code.Name(status.code)
            if status.code in code_pb2.Code.values()
            else status.code
        )
        log.warning(
            "fleet rejected %s (%s): %s %s", kind or "a message", message_id, code, status.message
        )
        errand = self._state.errand
        if kind is Sent.GO_ONLINE:
            self._session.go_online_due = self._observations.clock() + 5.0
        elif kind is Sent.CONFIRM and errand is not None and errand.delivery_id == delivery_id:
            if status.code == code_pb2.UNAVAILABLE:
                # Not processed: the same id again, after the delay fleet asks for.
                self._observations.confirmation_retried()
                errand.confirmation_lost(resend_at=self._observations.clock() + retry_delay(status))
            else:  # cancelled meanwhile, or lost a race: the errand is over for this courier
                self._state.errand = None


# Without RetryInfo, wait this long before re-sending a refused confirmation.
DEFAULT_RESEND_SECONDS = 0.5


def retry_delay(status: status_pb2.Status) -> float:
    """The RetryInfo delay in `status`, else DEFAULT_RESEND_SECONDS."""
    retry = error_details_pb2.RetryInfo()
    for detail in status.details:
        if detail.Unpack(retry):
            return max(float(retry.retry_delay.ToTimedelta().total_seconds()), 0.0)
    return DEFAULT_RESEND_SECONDS
