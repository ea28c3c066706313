"""argon2id hashes: verification, unknown emails, and upgrades when parameters change."""

from __future__ import annotations

import argon2

from services.identity.adapters.argon2_hasher import Argon2PasswordHasher

# Cheap parameters: these tests are about behaviour, not cost.
FAST = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery staple"


async def test_a_hash_is_argon2id_and_verifies_only_the_right_password() -> None:
    hasher = Argon2PasswordHasher(FAST)
    password_hash = await hasher.hash(PASSWORD)
    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash
    assert await hasher.verify(password_hash, PASSWORD)
    assert not await hasher.verify(password_hash, "wrong password 123")


async def test_an_unknown_email_never_verifies() -> None:
    assert not await Argon2PasswordHasher(FAST).verify(None, PASSWORD)


async def test_a_garbled_hash_is_a_failed_check_not_a_crash() -> None:
    assert not await Argon2PasswordHasher(FAST).verify("not-a-hash", PASSWORD)


async def test_hashes_made_with_other_parameters_need_a_rehash() -> None:
    old = await Argon2PasswordHasher(FAST).hash(PASSWORD)
    stronger = Argon2PasswordHasher(
        argon2.PasswordHasher(time_cost=2, memory_cost=8, parallelism=1)
    )
    assert stronger.needs_rehash(old)
    assert not stronger.needs_rehash(await stronger.hash(PASSWORD))
