"""Makes the identity that the gateway verified available to handlers.

The edge verifies the JWT and forwards its claims as metadata, after stripping any
copy a client sent; inside the mesh, mTLS guarantees the metadata came from a sidecar.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.runtime import context
from services.runtime.context import Caller, Role
from services.runtime.interceptors.base import AroundCallInterceptor, Call

ACCOUNT_ID_HEADER = "x-lastmile-account-id"
ROLE_HEADER = "x-lastmile-role"


def caller_from(call: Call) -> Caller | None:
    account_id = call.header(ACCOUNT_ID_HEADER)
    role = call.header(ROLE_HEADER)
    if not account_id or role is None or role not in Role.__members__.values():
        return None
    return Caller(account_id=account_id, role=Role(role))


class AuthContextInterceptor(AroundCallInterceptor):
    """Binds the forwarded caller (or None) for the duration of the call."""

    @asynccontextmanager
    async def around(self, call: Call) -> AsyncIterator[None]:
        token = context.caller.set(caller_from(call))
        try:
            yield
        finally:
            context.caller.reset(token)
