"""In-memory fakes of identity's ports, subclassing the real interfaces."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.identity.domain.account import Account, EmailAlreadyRegistered
from services.identity.domain.signing_key import SigningKey
from services.identity.service_layer.ports import PasswordHasher
from services.identity.service_layer.unit_of_work import (
    AccountRepository,
    SigningKeyRepository,
    UnitOfWork,
)


class Clock:
    """A clock the test moves by hand; it starts now, so that PyJWT accepts fresh tokens."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Store:
    """What the fake database holds between units of work."""

    accounts: dict[str, Account] = field(default_factory=dict)
    keys: dict[str, SigningKey] = field(default_factory=dict)
    commits: int = 0


class FakeAccountRepository(AccountRepository):
    def __init__(self, accounts: dict[str, Account]) -> None:
        self._accounts = accounts

    async def add(self, account: Account) -> None:
        if any(a.email.key == account.email.key for a in self._accounts.values()):
            raise EmailAlreadyRegistered()
        self._accounts[account.account_id] = account

    async def get(self, account_id: str) -> Account | None:
        return self._accounts.get(account_id)

    async def get_by_email(self, email_key: str, *, for_update: bool = False) -> Account | None:
        return next((a for a in self._accounts.values() if a.email.key == email_key), None)

    async def save(self, account: Account) -> None:
        self._accounts[account.account_id] = account


class FakeSigningKeyRepository(SigningKeyRepository):
    def __init__(self, keys: dict[str, SigningKey]) -> None:
        self._keys = keys

    async def lock(self) -> None:
        pass  # One event loop, no replicas: nothing to serialise against.

    async def active(self) -> SigningKey | None:
        return next((k for k in self._keys.values() if k.is_active), None)

    async def all(self) -> list[SigningKey]:
        def recency(key: SigningKey) -> tuple[bool, datetime, datetime]:
            return (key.is_active, key.retired_at or key.created_at, key.created_at)

        return sorted(self._keys.values(), key=recency, reverse=True)

    async def add(self, key: SigningKey) -> None:
        self._keys[key.kid] = key

    async def save(self, key: SigningKey) -> None:
        self._keys[key.kid] = key

    async def remove(self, kid: str) -> None:
        del self._keys[kid]


class FakeUnitOfWork(UnitOfWork):
    """Works on copies of the store; `commit` writes them back, anything else drops them."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._accounts = dict(store.accounts)
        self._keys = dict(store.keys)
        self.accounts = FakeAccountRepository(self._accounts)
        self.signing_keys = FakeSigningKeyRepository(self._keys)

    async def commit(self) -> None:
        self._store.accounts = dict(self._accounts)
        self._store.keys = dict(self._keys)
        self._store.commits += 1

    async def rollback(self) -> None:
        self._accounts.clear()
        self._accounts.update(self._store.accounts)
        self._keys.clear()
        self._keys.update(self._store.keys)


class FakePasswordHasher(PasswordHasher):
    """Fast, salt-free digests tagged with a parameter version that tests can bump."""

    def __init__(self) -> None:
        self.version = 1
        self.verified: list[str | None] = []

    async def hash(self, password: str) -> str:
        return f"fake-v{self.version}${hashlib.sha256(password.encode()).hexdigest()}"

    async def verify(self, password_hash: str | None, password: str) -> bool:
        self.verified.append(password_hash)
        if password_hash is None:
            return False
        digest = password_hash.partition("$")[2]
        return digest == hashlib.sha256(password.encode()).hexdigest()

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"fake-v{self.version}$")
