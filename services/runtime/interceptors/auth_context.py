"""Makes the identity that the gateway verified available to handlers.

The edge verifies the JWT and forwards its claims as metadata, after stripping any
copy a client sent; inside the mesh, mTLS guarantees the metadata came from a sidecar.
"""

from __future__ import annotations

from typing import Any

from services.runtime import context
from services.runtime.context import Caller, Role
from services.runtime.interceptors.base import Call, CallObserver

ACCOUNT_ID_HEADER = "x-lastmile-account-id"
ROLE_HEADER = "x-lastmile-role"
_ROLES = {role.value: role for role in Role}


def caller_from(call: Call) -> Caller | None:
    account_id = call.header(ACCOUNT_ID_HEADER)
    role = _ROLES.get(call.header(ROLE_HEADER) or "")
    if not account_id or role is None:
        return None
    return Caller(account_id=account_id, role=role)


class AuthContext(CallObserver):
    """Binds the forwarded caller (or None) for the duration of the call."""

    def begin(self, call: Call) -> Any:
        return context.caller.set(caller_from(call))

    def end(self, call: Call, started: Any, error: BaseException | None) -> None:
        context.caller.reset(started)
