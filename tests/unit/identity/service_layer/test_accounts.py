"""Registration, who-am-I and the configured ops account, over fakes."""

from __future__ import annotations

import uuid

import pytest

from services.identity.domain.account import AccountNotFound, EmailAlreadyRegistered
from services.identity.service_layer.accounts import (
    AccountHandlers,
    OpsEmailTaken,
    ProvisionOpsAccount,
    RegisterAccount,
)
from services.runtime.context import Role
from services.runtime.errors import InvalidArgument
from tests.unit.identity.fakes import FakePasswordHasher, Store

PASSWORD = "correct horse battery staple"


def registration(**overrides: object) -> RegisterAccount:
    fields: dict[str, object] = {
        "email": "Jane@Example.com",
        "password": PASSWORD,
        "display_name": "Jane",
        "role": Role.CUSTOMER,
    }
    fields.update(overrides)
    return RegisterAccount(**fields)  # type: ignore[arg-type]


def violations(error: InvalidArgument) -> dict[str, str]:
    return {v.field: v.description for v in error.violations}


async def test_a_customer_registers_and_the_password_is_kept_only_as_a_hash(
    accounts: AccountHandlers, store: Store
) -> None:
    account = await accounts.register(registration())
    assert account.email.as_given == "Jane@Example.com"
    assert (account.display_name, account.role) == ("Jane", Role.CUSTOMER)
    assert store.accounts[account.account_id] == account
    assert PASSWORD not in account.password_hash


async def test_an_email_that_differs_only_in_case_is_already_registered(
    accounts: AccountHandlers,
) -> None:
    await accounts.register(registration())
    with pytest.raises(EmailAlreadyRegistered):
        await accounts.register(registration(email="JANE@example.COM", role=Role.MERCHANT))


async def test_ops_accounts_cannot_self_register(accounts: AccountHandlers, store: Store) -> None:
    with pytest.raises(InvalidArgument) as raised:
        await accounts.register(registration(role=Role.OPS))
    assert violations(raised.value) == {"account.role": "ops accounts cannot self-register"}
    assert store.accounts == {}


async def test_every_field_the_handler_judges_is_named_in_one_error(
    accounts: AccountHandlers,
) -> None:
    # Lengths, blanks and control characters are the contract's (tests/unit/runtime);
    # the email's syntax, a password made of it, and the role are the handler's.
    with pytest.raises(InvalidArgument) as raised:
        await accounts.register(registration(email="not-an-email", role=None))
    assert set(violations(raised.value)) == {"account.email", "account.role"}
    with pytest.raises(InvalidArgument) as raised:
        await accounts.register(registration(password="jane.doe@example.com"))
    assert set(violations(raised.value)) == {"password"}


async def test_who_am_i_finds_the_account_by_id(accounts: AccountHandlers) -> None:
    account = await accounts.register(registration())
    assert await accounts.current_account(account.account_id) == account


@pytest.mark.parametrize("account_id", [str(uuid.uuid4()), "not-a-uuid"])
async def test_who_am_i_for_a_vanished_account_is_not_found(
    accounts: AccountHandlers, account_id: str
) -> None:
    with pytest.raises(AccountNotFound):
        await accounts.current_account(account_id)


async def test_the_ops_account_is_provisioned_once_and_kept_as_is_while_unchanged(
    accounts: AccountHandlers, store: Store
) -> None:
    ops = ProvisionOpsAccount("ops@lastmile.dev", "operator password 1")
    first = await accounts.provision_ops_account(ops)
    commits = store.commits
    again = await accounts.provision_ops_account(ops)
    assert first.role is Role.OPS
    assert again == first
    assert store.commits == commits


async def test_a_changed_ops_password_replaces_the_stored_hash(
    accounts: AccountHandlers, hasher: FakePasswordHasher
) -> None:
    first = await accounts.provision_ops_account(
        ProvisionOpsAccount("ops@lastmile.dev", "operator password 1")
    )
    second = await accounts.provision_ops_account(
        ProvisionOpsAccount("OPS@lastmile.dev", "operator password 2")
    )
    assert second.account_id == first.account_id
    assert await hasher.verify(second.password_hash, "operator password 2")


async def test_the_ops_email_of_a_self_registered_account_is_never_promoted(
    accounts: AccountHandlers,
) -> None:
    await accounts.register(registration(email="ops@lastmile.dev"))
    with pytest.raises(OpsEmailTaken):
        await accounts.provision_ops_account(
            ProvisionOpsAccount("ops@lastmile.dev", "operator password 1")
        )
