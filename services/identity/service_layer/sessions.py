"""Log in: check the password, count failures towards a lockout, issue an access token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from services.identity.domain.account import Account, InvalidCredentials
from services.identity.domain.credentials import EmailAddress
from services.identity.domain.lockout import LockoutPolicy, LoginFailures
from services.identity.domain.session import AccessClaims, Session
from services.identity.domain.signing_key import SigningKey
from services.identity.service_layer.ports import Clock, PasswordHasher, TokenSigner
from services.identity.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime.errors import Unavailable


@dataclass(frozen=True, slots=True)
class LogIn:
    """Exchange an email and password for an access token."""

    email: str
    password: str


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """Who issues access tokens, for whom, and for how long."""

    issuer: str
    audience: str
    ttl: timedelta


@dataclass(frozen=True)
class SessionHandlers:
    """The log-in use case."""

    uow: UnitOfWorkFactory
    hasher: PasswordHasher
    signer: TokenSigner
    clock: Clock
    tokens: TokenPolicy
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)

    async def log_in(self, command: LogIn) -> Session:
        account = await self._count_attempt(command.email)
        known_hash = account.password_hash if account is not None else None
        if not await self.hasher.verify(known_hash, command.password) or account is None:
            raise InvalidCredentials()
        # Hashed before the transaction, so that the row lock is never held for it.
        upgraded = None
        if self.hasher.needs_rehash(account.password_hash):
            upgraded = await self.hasher.hash(command.password)
        async with self.uow() as uow:
            # Re-read under the row lock: the attempt was counted by another transaction.
            current = await uow.accounts.get_by_email(account.email.key, for_update=True)
            if current is None:
                raise InvalidCredentials()
            current = current.with_failures(LoginFailures())
            if upgraded is not None:
                current = current.with_password_hash(upgraded)
            await uow.accounts.save(current)
            key = await uow.signing_keys.active()
            await uow.commit()
        if key is None:
            raise Unavailable("identity has no signing key yet; retry shortly")
        return self._issue(key, current)

    def _issue(self, key: SigningKey, account: Account) -> Session:
        issued = self.clock().replace(microsecond=0)
        claims = AccessClaims(
            issuer=self.tokens.issuer,
            audience=self.tokens.audience,
            subject=account.account_id,
            role=account.role,
            issued_at=issued,
            expires_at=issued + self.tokens.ttl,
            token_id=uuid.uuid4().hex,
        )
        return Session(self.signer.sign(key, claims), claims.expires_at, account)

    async def _count_attempt(self, raw_email: str) -> Account | None:
        """The account, after counting this attempt as a failure until it succeeds.

        Counting before the (slow) password check bounds the guesses that concurrent
        attempts can make to the policy's limit; a success resets the count."""
        email = EmailAddress.parse(raw_email)
        if email is None:
            return None
        async with self.uow() as uow:
            account = await uow.accounts.get_by_email(email.key, for_update=True)
            if account is None:
                return None
            now = self.clock()
            self.lockout.ensure_unlocked(account.failures, now)
            await uow.accounts.save(
                account.with_failures(self.lockout.after_failure(account.failures, now))
            )
            await uow.commit()
        return account
