"""Idempotency keys: a client's promise that repeated calls mean the same delivery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.runtime.errors import FailedPrecondition

# How long a key is remembered; afterwards it may name a new delivery.
KEY_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """That `owner_id` used `key` for the request with `request_fingerprint`, which
    created `delivery_id`."""

    owner_id: str
    key: str
    request_fingerprint: str
    delivery_id: str
    created_at: datetime

    def replay_for(self, request_fingerprint: str) -> str:
        """The delivery this key created, if the request is the same one; else refuse."""
        if request_fingerprint != self.request_fingerprint:
            raise IdempotencyKeyReused(self.key)
        return self.delivery_id


class IdempotencyKeyReused(FailedPrecondition):
    """The key already created a delivery from a different request."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"idempotency key {key!r} was already used for a different delivery request; "
            "send the same request to get that delivery, or use a new key for a new one",
            reason="IDEMPOTENCY_KEY_REUSED",
            metadata={"idempotency_key": key},
        )
