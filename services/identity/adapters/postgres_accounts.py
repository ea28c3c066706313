"""Accounts in identity's PostgreSQL database."""

from __future__ import annotations

import uuid

import asyncpg

from services.identity.domain.account import Account, EmailAlreadyRegistered
from services.identity.domain.credentials import EmailAddress
from services.identity.domain.lockout import LoginFailures
from services.identity.service_layer.unit_of_work import AccountRepository
from services.runtime.context import Role

_COLUMNS = (
    "account_id, email, email_key, display_name, role, password_hash, created_at,"
    " failed_logins, failure_window_started_at, locked_until"
)


def _account(row: asyncpg.Record) -> Account:
    # As stored: re-parsing under today's rules must not make an account unreachable.
    email = EmailAddress(row["email"], row["email"].rpartition("@")[0], row["email_key"])
    return Account(
        account_id=str(row["account_id"]),
        email=email,
        display_name=row["display_name"],
        role=Role(row["role"]),
        password_hash=row["password_hash"],
        created_at=row["created_at"],
        failures=LoginFailures(
            row["failed_logins"], row["failure_window_started_at"], row["locked_until"]
        ),
    )


class PostgresAccountRepository(AccountRepository):
    """Reads and writes accounts on the unit of work's connection."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def add(self, account: Account) -> None:
        try:
            await self._connection.execute(
                f"INSERT INTO accounts ({_COLUMNS})"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                uuid.UUID(account.account_id),
                account.email.as_given,
                account.email.key,
                account.display_name,
                account.role.value,
                account.password_hash,
                account.created_at,
                account.failures.count,
                account.failures.window_started_at,
                account.failures.locked_until,
            )
        except asyncpg.UniqueViolationError as taken:
            raise EmailAlreadyRegistered() from taken

    async def get(self, account_id: str) -> Account | None:
        try:
            key = uuid.UUID(account_id)
        except ValueError:
            return None
        row = await self._connection.fetchrow(
            f"SELECT {_COLUMNS} FROM accounts WHERE account_id = $1", key
        )
        return None if row is None else _account(row)

    async def get_by_email(self, email_key: str, *, for_update: bool = False) -> Account | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._connection.fetchrow(
            f"SELECT {_COLUMNS} FROM accounts WHERE email_key = $1{lock}", email_key
        )
        return None if row is None else _account(row)

    async def save(self, account: Account) -> None:
        await self._connection.execute(
            "UPDATE accounts SET display_name = $2, password_hash = $3, failed_logins = $4,"
            " failure_window_started_at = $5, locked_until = $6 WHERE account_id = $1",
            uuid.UUID(account.account_id),
            account.display_name,
            account.password_hash,
            account.failures.count,
            account.failures.window_started_at,
            account.failures.locked_until,
        )
