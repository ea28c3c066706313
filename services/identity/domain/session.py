"""A log-in's outcome: the claims of an access token and the token itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.identity.domain.account import Account
from services.runtime.context import Role


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What an access token asserts: who (`subject`, `role`), for whom, and until when."""

    issuer: str
    audience: str
    subject: str
    role: Role
    issued_at: datetime
    expires_at: datetime
    token_id: str


@dataclass(frozen=True, slots=True)
class Session:
    """A signed access token for `account`, valid until `expires_at`."""

    access_token: str
    expires_at: datetime
    account: Account
