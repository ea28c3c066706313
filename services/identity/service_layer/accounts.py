"""Account use cases: register, who-am-I, and the ops account from configuration."""

from __future__ import annotations

from dataclasses import dataclass

from services.identity.domain.account import (
    SELF_SERVICE_ROLES,
    Account,
    AccountNotFound,
    EmailAlreadyRegistered,
)
from services.identity.domain.credentials import (
    EmailAddress,
    check_password_is_not_the_email,
    read_display_name,
)
from services.identity.service_layer.ports import Clock, PasswordHasher
from services.identity.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime.context import Role
from services.runtime.errors import Violations


@dataclass(frozen=True, slots=True)
class RegisterAccount:
    """Create a self-service account; `role` is None when the request named none."""

    email: str
    password: str
    display_name: str
    role: Role | None


@dataclass(frozen=True, slots=True)
class ProvisionOpsAccount:
    """Make the configured ops account exist with this password (idempotent)."""

    email: str
    password: str
    display_name: str = "Operations"


class OpsEmailTaken(RuntimeError):
    """The configured ops email belongs to a self-registered account; promoting it would
    hand ops rights to whoever registered it."""


@dataclass(frozen=True)
class AccountHandlers:
    """Registration and account look-ups over a unit of work and a password hasher."""

    uow: UnitOfWorkFactory
    hasher: PasswordHasher
    clock: Clock

    async def register(self, command: RegisterAccount) -> Account:
        violations = Violations()
        email = EmailAddress.read(command.email, violations, "account.email")
        check_password_is_not_the_email(command.password, email, violations, "password")
        name = read_display_name(command.display_name)
        # The contract refuses ROLE_OPS as well; this stays because registration must
        # never mint an ops account, whoever calls the handler.
        role = command.role if command.role in SELF_SERVICE_ROLES else None
        if command.role is None:
            violations.add("account.role", "is required")
        elif role is None:
            violations.add("account.role", "ops accounts cannot self-register")
        # resolve() raises one INVALID_ARGUMENT naming every violation found above.
        account = Account.register(
            violations.resolve(email),
            name,
            violations.resolve(role),
            await self.hasher.hash(command.password),
            self.clock(),
        )
        async with self.uow() as uow:
            if await uow.accounts.get_by_email(account.email.key) is not None:
                raise EmailAlreadyRegistered()
            await uow.accounts.add(account)
            await uow.commit()
        return account

    async def current_account(self, account_id: str) -> Account:
        async with self.uow() as uow:
            account = await uow.accounts.get(account_id)
        if account is None:
            raise AccountNotFound()
        return account

    async def provision_ops_account(self, command: ProvisionOpsAccount) -> Account:
        email = EmailAddress.parse(command.email)
        if email is None:
            raise ValueError(f"the ops email {command.email!r} is not a valid address")
        try:
            return await self._provision_ops(email, command)
        except EmailAlreadyRegistered:
            # Another replica created it between our read and our insert; now it exists.
            return await self._provision_ops(email, command)

    async def _provision_ops(self, email: EmailAddress, command: ProvisionOpsAccount) -> Account:
        async with self.uow() as uow:
            existing = await uow.accounts.get_by_email(email.key, for_update=True)
            if existing is None:
                password_hash = await self.hasher.hash(command.password)
                account = Account.register(
                    email, command.display_name, Role.OPS, password_hash, self.clock()
                )
                await uow.accounts.add(account)
            elif existing.role is not Role.OPS:
                raise OpsEmailTaken(f"{command.email!r} belongs to a {existing.role} account")
            elif await self.hasher.verify(existing.password_hash, command.password):
                return existing
            else:
                account = existing.with_password_hash(await self.hasher.hash(command.password))
                await uow.accounts.save(account)
            await uow.commit()
        return account
