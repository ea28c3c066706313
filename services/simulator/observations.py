"""The one place where simulated customers and couriers report what happened, so that
the progress line and the final report read the same counters."""

from __future__ import annotations

import time
from collections.abc import Callable

from services.simulator.ledger import DeliveryLedger
from services.simulator.statistics import Counters


class Observations:
    """Counters, the delivery ledger, and the monotonic clock that stamps both."""

    def __init__(
        self, ledger: DeliveryLedger | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.counters = Counters()
        self.ledger = ledger or DeliveryLedger()
        self.clock = clock
        self.sessions_started = 0
        self.last_connect_error = ""

    def delivery_created(self, delivery_id: str) -> None:
        self.counters.created += 1
        self.ledger.created(delivery_id, self.clock())

    def create_retried(self) -> None:
        self.counters.create_retries += 1

    def confirmation_retried(self) -> None:
        self.counters.confirmation_retries += 1

    def create_failed(self, why: str) -> None:
        self.counters.failed_creates[why] += 1

    def offer_received(self, delivery_id: str) -> None:
        self.counters.offered += 1
        self.ledger.offered(delivery_id, self.clock())

    def assignment_received(self, delivery_id: str) -> None:
        self.counters.assigned += 1
        self.ledger.assigned(delivery_id, self.clock())

    def picked_up(self) -> None:
        self.counters.picked_up += 1

    def delivered(self, delivery_id: str) -> None:
        self.counters.delivered += 1
        self.ledger.finished(delivery_id)

    def delivery_cancelled(self, delivery_id: str) -> None:
        self.counters.cancelled += 1
        self.ledger.finished(delivery_id)

    def session_started(self) -> None:
        self.sessions_started += 1

    def stream_broken(self, why: str) -> None:
        self.counters.broken_streams += 1
        self.last_connect_error = why
