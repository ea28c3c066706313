"""Signing key use cases: keep one active key, rotate it, list the published keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.identity.domain.signing_key import SigningKey
from services.identity.service_layer.ports import Clock, TokenSigner
from services.identity.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True)
class SigningKeyHandlers:
    """Key lifecycle over a unit of work; every change holds the cross-replica key lock."""

    uow: UnitOfWorkFactory
    signer: TokenSigner
    clock: Clock
    token_ttl: timedelta
    # Clock skew tolerated by verifiers: a retired key stays published this much longer.
    leeway: timedelta = timedelta(seconds=60)
    # None: rotate only on demand.
    max_key_age: timedelta | None = None

    async def ensure_current_key(self) -> SigningKey:
        """The active key; made on first start, and replaced once older than max_key_age."""
        async with self.uow() as uow:
            await uow.signing_keys.lock()
            active = await uow.signing_keys.active()
            now = self.clock()
            if active is not None and not (
                self.max_key_age is not None and active.is_older_than(self.max_key_age, now)
            ):
                self.signer.check_usable(active)
                return active
            key = await self._replace(uow, active)
            await uow.commit()
        return key

    async def rotate_keys(self) -> SigningKey:
        """Make a new active key; tokens signed with the previous one stay verifiable
        until they expire."""
        async with self.uow() as uow:
            await uow.signing_keys.lock()
            key = await self._replace(uow, await uow.signing_keys.active())
            await uow.commit()
        return key

    async def published_keys(self) -> list[SigningKey]:
        """The keys that verify live tokens, newest first."""
        now = self.clock()
        async with self.uow() as uow:
            return [key for key in await uow.signing_keys.all() if key.is_published(now)]

    async def _replace(self, uow: UnitOfWork, active: SigningKey | None) -> SigningKey:
        now = self.clock()
        if active is not None:
            await uow.signing_keys.save(active.retire(now, self.token_ttl, self.leeway))
        for key in await uow.signing_keys.all():
            # Unpublished keys can verify nothing any more; their private half goes too.
            if not key.is_active and not key.is_published(now):
                await uow.signing_keys.remove(key.kid)
        key = self.signer.generate_key(now)
        await uow.signing_keys.add(key)
        return key
