"""Signing keys in identity's PostgreSQL database."""

from __future__ import annotations

import json

import asyncpg

from services.identity.domain.signing_key import PublicJwk, SigningKey
from services.identity.service_layer.unit_of_work import SigningKeyRepository

_COLUMNS = "kid, algorithm, public_jwk, sealed_private_key, created_at, retired_at, retire_after"
# Any constant will do, as long as nothing else in identity's database uses it.
_KEY_LOCK = "lastmile.identity.signing_keys"


def _key(row: asyncpg.Record) -> SigningKey:
    jwk = json.loads(row["public_jwk"])
    return SigningKey(
        kid=row["kid"],
        algorithm=row["algorithm"],
        public_jwk=PublicJwk(kty=jwk["kty"], crv=jwk["crv"], x=jwk["x"], y=jwk["y"]),
        sealed_private_key=bytes(row["sealed_private_key"]),
        created_at=row["created_at"],
        retired_at=row["retired_at"],
        retire_after=row["retire_after"],
    )


class PostgresSigningKeyRepository(SigningKeyRepository):
    """Reads and writes keys on the unit of work's connection."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def lock(self) -> None:
        # Transaction-scoped: released by commit or rollback, never leaked by a crash.
        await self._connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", _KEY_LOCK)

    async def active(self) -> SigningKey | None:
        row = await self._connection.fetchrow(
            f"SELECT {_COLUMNS} FROM signing_keys WHERE retired_at IS NULL"
        )
        return None if row is None else _key(row)

    async def all(self) -> list[SigningKey]:
        rows = await self._connection.fetch(
            f"SELECT {_COLUMNS} FROM signing_keys"
            " ORDER BY retired_at DESC NULLS FIRST, created_at DESC"
        )
        return [_key(row) for row in rows]

    async def add(self, key: SigningKey) -> None:
        jwk = key.public_jwk
        await self._connection.execute(
            f"INSERT INTO signing_keys ({_COLUMNS}) VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7)",
            key.kid,
            key.algorithm,
            json.dumps({"kty": jwk.kty, "crv": jwk.crv, "x": jwk.x, "y": jwk.y}),
            key.sealed_private_key,
            key.created_at,
            key.retired_at,
            key.retire_after,
        )

    async def save(self, key: SigningKey) -> None:
        await self._connection.execute(
            "UPDATE signing_keys SET retired_at = $2, retire_after = $3 WHERE kid = $1",
            key.kid,
            key.retired_at,
            key.retire_after,
        )

    async def remove(self, kid: str) -> None:
        await self._connection.execute("DELETE FROM signing_keys WHERE kid = $1", kid)
