"""Accounts: who can log in, with which role, and their credential state."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from services.identity.domain.credentials import EmailAddress
from services.identity.domain.lockout import LoginFailures
from services.runtime.context import Role
from services.runtime.errors import AlreadyExists, NotFound, Unauthenticated

SELF_SERVICE_ROLES = frozenset({Role.CUSTOMER, Role.MERCHANT, Role.COURIER})


@dataclass(frozen=True, slots=True)
class Account:
    """A registered account. `password_hash` never leaves identity."""

    account_id: str
    email: EmailAddress
    display_name: str
    role: Role
    password_hash: str
    created_at: datetime
    failures: LoginFailures = field(default_factory=LoginFailures)

    @classmethod
    def register(
        cls, email: EmailAddress, display_name: str, role: Role, password_hash: str, now: datetime
    ) -> Account:
        return cls(str(uuid.uuid4()), email, display_name, role, password_hash, now)

    def with_failures(self, failures: LoginFailures) -> Account:
        return dataclasses.replace(self, failures=failures)

    def with_password_hash(self, password_hash: str) -> Account:
        return dataclasses.replace(self, password_hash=password_hash)


class EmailAlreadyRegistered(AlreadyExists):
    """Another account uses this email (compared case-insensitively)."""

    def __init__(self) -> None:
        super().__init__("an account with this email already exists")


class InvalidCredentials(Unauthenticated):
    """Unknown email or wrong password: deliberately the same error for both."""

    def __init__(self) -> None:
        super().__init__("the email or password is incorrect", reason="INVALID_CREDENTIALS")


class AccountNotFound(NotFound):
    """The token's account no longer exists."""

    def __init__(self) -> None:
        super().__init__("the signed-in account no longer exists")
