"""Repository and unit-of-work interfaces; adapters implement them, tests fake them."""

from __future__ import annotations

import abc
from collections.abc import Callable
from types import TracebackType
from typing import Self

from services.identity.domain.account import Account
from services.identity.domain.signing_key import SigningKey


class AccountRepository(abc.ABC):
    """Accounts by id and by email key."""

    @abc.abstractmethod
    async def add(self, account: Account) -> None:
        """Raises EmailAlreadyRegistered if the email key is taken."""

    @abc.abstractmethod
    async def get(self, account_id: str) -> Account | None: ...

    @abc.abstractmethod
    async def get_by_email(self, email_key: str, *, for_update: bool = False) -> Account | None:
        """`for_update` holds the account until the unit of work ends, so that
        concurrent log-ins count their failures one after the other."""

    @abc.abstractmethod
    async def save(self, account: Account) -> None:
        """Store the account's password hash, display name and failure state."""


class SigningKeyRepository(abc.ABC):
    """Token signing keys, newest first."""

    @abc.abstractmethod
    async def lock(self) -> None:
        """Serialise key changes across replicas until the unit of work ends."""

    @abc.abstractmethod
    async def active(self) -> SigningKey | None: ...

    @abc.abstractmethod
    async def all(self) -> list[SigningKey]:
        """Every stored key: the active one first, then by retirement, latest first."""

    @abc.abstractmethod
    async def add(self, key: SigningKey) -> None: ...

    @abc.abstractmethod
    async def save(self, key: SigningKey) -> None:
        """Store the key's retirement."""

    @abc.abstractmethod
    async def remove(self, kid: str) -> None: ...


class UnitOfWork(abc.ABC):
    """One transaction over the repositories: nothing is kept unless `commit` is awaited."""

    accounts: AccountRepository
    signing_keys: SigningKeyRepository

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.rollback()

    @abc.abstractmethod
    async def commit(self) -> None: ...

    @abc.abstractmethod
    async def rollback(self) -> None:
        """Discard uncommitted changes; a no-op after `commit`."""


UnitOfWorkFactory = Callable[[], UnitOfWork]
