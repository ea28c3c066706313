"""Signing key lifecycle over fakes: first key, rotation, retirement and age."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.identity.adapters.es256_signer import Es256TokenSigner
from services.identity.service_layer.accounts import AccountHandlers, RegisterAccount
from services.identity.service_layer.ports import KeyUnusable
from services.identity.service_layer.sessions import LogIn, SessionHandlers
from services.identity.service_layer.signing_keys import SigningKeyHandlers
from services.identity.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime.context import Role
from tests.unit.identity.conftest import TOKEN_TTL
from tests.unit.identity.fakes import Clock, Store
from tests.unit.identity.tokens import verify_with_jwks

EMAIL = "merchant@example.com"
PASSWORD = "correct horse battery staple"


async def jwks(keys: SigningKeyHandlers) -> list[dict[str, str]]:
    return [key.jwk() for key in await keys.published_keys()]


async def test_the_first_start_makes_one_key_and_later_starts_keep_it(
    keys: SigningKeyHandlers, store: Store
) -> None:
    first = await keys.ensure_current_key()
    again = await keys.ensure_current_key()
    assert again.kid == first.kid
    assert list(store.keys) == [first.kid]


async def test_a_token_signed_before_a_rotation_still_verifies_after_it(
    keys: SigningKeyHandlers, accounts: AccountHandlers, sessions: SessionHandlers
) -> None:
    old = await keys.ensure_current_key()
    await accounts.register(RegisterAccount(EMAIL, PASSWORD, "Shop", Role.MERCHANT))
    before = await sessions.log_in(LogIn(EMAIL, PASSWORD))
    new = await keys.rotate_keys()
    after = await sessions.log_in(LogIn(EMAIL, PASSWORD))
    published = await jwks(keys)
    assert [key["kid"] for key in published] == [new.kid, old.kid]
    assert verify_with_jwks(before.access_token, published)["sub"] == before.account.account_id
    assert verify_with_jwks(after.access_token, published)["sub"] == after.account.account_id


async def test_a_retired_key_is_unpublished_after_its_tokens_expired_and_purged_later(
    keys: SigningKeyHandlers, clock: Clock, store: Store
) -> None:
    old = await keys.ensure_current_key()
    new = await keys.rotate_keys()
    clock.advance(TOKEN_TTL + timedelta(seconds=59))
    assert {key["kid"] for key in await jwks(keys)} == {new.kid, old.kid}
    clock.advance(timedelta(seconds=1))
    assert [key["kid"] for key in await jwks(keys)] == [new.kid]
    newest = await keys.rotate_keys()
    assert set(store.keys) == {newest.kid, new.kid}


async def test_a_key_older_than_the_maximum_age_is_replaced_at_start(
    uow: UnitOfWorkFactory, signer: Es256TokenSigner, clock: Clock
) -> None:
    keys = SigningKeyHandlers(uow, signer, clock, TOKEN_TTL, max_key_age=timedelta(days=90))
    old = await keys.ensure_current_key()
    clock.advance(timedelta(days=89))
    assert (await keys.ensure_current_key()).kid == old.kid
    clock.advance(timedelta(days=1))
    assert (await keys.ensure_current_key()).kid != old.kid


async def test_a_key_sealed_with_another_secret_is_refused_at_start(
    keys: SigningKeyHandlers, uow: UnitOfWorkFactory, clock: Clock
) -> None:
    await keys.ensure_current_key()
    other = SigningKeyHandlers(
        uow, Es256TokenSigner("another-secret-0123456789abcdefgh"), clock, TOKEN_TTL
    )
    with pytest.raises(KeyUnusable):
        await other.ensure_current_key()
