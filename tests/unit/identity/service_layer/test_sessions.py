"""Log in over fakes: tokens, identical failures, lockout and hash upgrades."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lastmile.identity.v1 import identity_pb2
from services.identity.domain.account import InvalidCredentials
from services.identity.domain.lockout import AccountLocked
from services.identity.service_layer.accounts import AccountHandlers, RegisterAccount
from services.identity.service_layer.sessions import LogIn, SessionHandlers
from services.identity.service_layer.signing_keys import SigningKeyHandlers
from services.runtime import validation
from services.runtime.context import Role
from services.runtime.errors import Unavailable
from tests.unit.identity.fakes import Clock, FakePasswordHasher, Store
from tests.unit.identity.tokens import verify_with_jwks

EMAIL = "courier@example.com"
PASSWORD = "correct horse battery staple"


@pytest.fixture
async def registered(accounts: AccountHandlers, keys: SigningKeyHandlers) -> str:
    await keys.ensure_current_key()
    account = await accounts.register(RegisterAccount(EMAIL, PASSWORD, "Cora", Role.COURIER))
    return account.account_id


async def fail(sessions: SessionHandlers, times: int) -> None:
    for _ in range(times):
        with pytest.raises(InvalidCredentials):
            await sessions.log_in(LogIn(EMAIL, "wrong password 123"))


async def test_a_log_in_returns_a_token_the_jwks_verifies(
    sessions: SessionHandlers, keys: SigningKeyHandlers, registered: str, clock: Clock
) -> None:
    session = await sessions.log_in(LogIn("Courier@Example.com", PASSWORD))
    jwks = [key.jwk() for key in await keys.published_keys()]
    claims = verify_with_jwks(session.access_token, jwks)
    assert claims["sub"] == registered == session.account.account_id
    assert claims["role"] == "courier"
    assert claims["iat"] == int(clock.now.timestamp())
    assert claims["exp"] == int((clock.now + timedelta(minutes=15)).timestamp())
    assert session.expires_at == clock.now + timedelta(minutes=15)


async def test_a_wrong_password_and_an_unknown_email_fail_identically(
    sessions: SessionHandlers, registered: str, hasher: FakePasswordHasher
) -> None:
    with pytest.raises(InvalidCredentials) as wrong:
        await sessions.log_in(LogIn(EMAIL, "wrong password 123"))
    with pytest.raises(InvalidCredentials) as unknown:
        await sessions.log_in(LogIn("nobody@example.com", PASSWORD))
    assert (wrong.value.message, wrong.value.reason) == (
        unknown.value.message,
        "INVALID_CREDENTIALS",
    )
    # The unknown email was still checked, against the dummy hash, to cost the same time.
    assert hasher.verified[-1] is None


def test_the_contract_refuses_a_blank_email_and_an_empty_password() -> None:
    error = validation.REQUESTS.error(identity_pb2.CreateSessionRequest(email=" ", password=""))
    assert error is not None
    assert [v.field for v in error.violations] == ["email", "password"]


async def test_five_failures_lock_the_account_even_against_the_right_password(
    sessions: SessionHandlers, registered: str
) -> None:
    await fail(sessions, 5)
    with pytest.raises(AccountLocked) as raised:
        await sessions.log_in(LogIn(EMAIL, PASSWORD))
    assert raised.value.retry_after == timedelta(minutes=15)


async def test_the_account_unlocks_once_the_lock_has_passed(
    sessions: SessionHandlers, registered: str, clock: Clock
) -> None:
    await fail(sessions, 5)
    clock.advance(timedelta(minutes=15))
    session = await sessions.log_in(LogIn(EMAIL, PASSWORD))
    assert session.account.account_id == registered


async def test_a_success_resets_the_failure_count(
    sessions: SessionHandlers, registered: str, store: Store
) -> None:
    await fail(sessions, 4)
    await sessions.log_in(LogIn(EMAIL, PASSWORD))
    await fail(sessions, 4)
    assert store.accounts[registered].failures.count == 4
    await sessions.log_in(LogIn(EMAIL, PASSWORD))


async def test_a_hash_made_with_outdated_parameters_is_upgraded_at_log_in(
    sessions: SessionHandlers, registered: str, store: Store, hasher: FakePasswordHasher
) -> None:
    hasher.version = 2
    await sessions.log_in(LogIn(EMAIL, PASSWORD))
    assert store.accounts[registered].password_hash.startswith("fake-v2$")


async def test_without_a_signing_key_log_in_is_unavailable(
    sessions: SessionHandlers, accounts: AccountHandlers
) -> None:
    await accounts.register(RegisterAccount(EMAIL, PASSWORD, "Cora", Role.COURIER))
    with pytest.raises(Unavailable):
        await sessions.log_in(LogIn(EMAIL, PASSWORD))
