"""Simulated accounts against a tiny in-process HTTP server shaped like the edge."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from services.simulator.accounts import Account, AccountError, AccountSpec, LoginGate
from tests.unit.simulator.fake_edge import FakeEdge, serving_edge


@pytest.fixture
def edge() -> Iterator[FakeEdge]:
    with serving_edge(FakeEdge()) as running:
        yield running


@pytest.fixture
async def account(edge: FakeEdge) -> AsyncIterator[Account]:
    async with httpx.AsyncClient(base_url=edge.base_url) as client:
        yield Account(AccountSpec.simulated("ROLE_COURIER", 7, seed=42), client, LoginGate())


def test_account_emails_are_deterministic_in_role_seed_and_index() -> None:
    spec = AccountSpec.simulated("ROLE_COURIER", 7, seed=42)
    assert spec.email == "sim-courier-42-00007@simulator.lastmile.dev"
    assert AccountSpec.simulated("ROLE_CUSTOMER", 7, seed=42).email != spec.email
    assert AccountSpec.simulated("ROLE_COURIER", 7, seed=43).email != spec.email


async def test_an_account_that_already_exists_is_reused(edge: FakeEdge, account: Account) -> None:
    edge.statuses = [409]
    await account.register()
    assert await account.access_token() == "token-2"
    assert [request.path for request in edge.received] == ["/v1/accounts", "/v1/sessions"]
    assert edge.received[0].body["account"]["role"] == "ROLE_COURIER"


async def test_registration_refused_for_another_reason_is_an_error(
    edge: FakeEdge, account: Account
) -> None:
    edge.statuses = [400]
    with pytest.raises(AccountError, match="HTTP 400"):
        await account.register()


async def test_a_rate_limited_log_in_waits_and_tries_again(
    edge: FakeEdge, account: Account
) -> None:
    edge.statuses = [429]
    assert await account.access_token() == "token-2"
    assert [request.path for request in edge.received] == ["/v1/sessions", "/v1/sessions"]


async def test_a_valid_token_is_reused_until_a_renewal_is_asked_for(
    edge: FakeEdge, account: Account
) -> None:
    first = await account.access_token()
    assert await account.access_token() == first
    assert await account.access_token(renew=True) != first
    assert account.account_id == "account-1"
