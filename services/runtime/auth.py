"""Authorization checks for handlers, over the caller bound by AuthContextInterceptor."""

from __future__ import annotations

from services.runtime import context
from services.runtime.context import Caller, Role
from services.runtime.errors import PermissionDenied, Unauthenticated


def current_caller() -> Caller | None:
    return context.caller.get()


def require_role(*roles: Role) -> Caller:
    """The caller, if it has one of `roles`; UNAUTHENTICATED or PERMISSION_DENIED otherwise."""
    caller = context.caller.get()
    if caller is None:
        raise Unauthenticated("this method needs a signed-in caller")
    if roles and caller.role not in roles:
        allowed = ", ".join(role.value for role in roles)
        raise PermissionDenied(
            f"role {caller.role.value!r} may not call this method ({allowed} may)"
        )
    return caller
