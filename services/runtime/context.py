"""Per-call context carried in contextvars: request id, caller identity and deadline.

Interceptors set these inside the handler's task, so handlers and outbound clients
read them without any parameter threading.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The roles that identity issues tokens for."""

    CUSTOMER = "customer"
    MERCHANT = "merchant"
    COURIER = "courier"
    OPS = "ops"


@dataclass(frozen=True, slots=True)
class Caller:
    """The verified identity the gateway forwarded for this call."""

    account_id: str
    role: Role


request_id: ContextVar[str | None] = ContextVar("lastmile_request_id", default=None)
rpc_method: ContextVar[str | None] = ContextVar("lastmile_rpc_method", default=None)
caller: ContextVar[Caller | None] = ContextVar("lastmile_caller", default=None)
# Absolute deadline of the call being served, on the time.monotonic() clock.
deadline: ContextVar[float | None] = ContextVar("lastmile_deadline", default=None)


def remaining_seconds() -> float | None:
    """Seconds left before the current call's deadline, or None without one."""
    absolute = deadline.get()
    return None if absolute is None else absolute - time.monotonic()
