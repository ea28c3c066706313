"""The JWKS over gRPC and HTTP, rotation by the CLI, and replicas racing at first start."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import jwt
import pytest
from google.protobuf import json_format

from lastmile.identity.v1 import (
    identity_internal_pb2,
    identity_internal_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
)
from services.devstack import LocalPostgres
from services.identity.bootstrap import bootstrap
from services.runtime.server import ServiceHost
from tests.integration.identity.conftest import (
    admin_jwks,
    fresh_database,
    identity_settings,
    unique_email,
)
from tests.unit.identity.tokens import verify_with_jwks

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery staple"
REPOSITORY = Path(__file__).resolve().parents[3]


async def grpc_jwks(channel: grpc.aio.Channel) -> dict[str, Any]:
    reply = await identity_internal_pb2_grpc.IdentityInternalServiceStub(channel).GetJwks(
        identity_internal_pb2.GetJwksRequest()
    )
    return json_format.MessageToDict(reply)


async def new_session(channel: grpc.aio.Channel, email: str) -> str:
    stub = identity_pb2_grpc.IdentityServiceStub(channel)
    session = await stub.CreateSession(
        identity_pb2.CreateSessionRequest(email=email, password=PASSWORD)
    )
    return session.access_token


async def registered(channel: grpc.aio.Channel) -> str:
    email = unique_email()
    await identity_pb2_grpc.IdentityServiceStub(channel).CreateAccount(
        identity_pb2.CreateAccountRequest(
            account=identity_pb2.Account(
                email=email, display_name="Kim", role=identity_pb2.ROLE_COURIER
            ),
            password=PASSWORD,
        )
    )
    return email


async def rotate_with_the_cli(database_url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.identity", "rotate-keys",
        cwd=REPOSITORY,
        env={**os.environ, "LASTMILE_IDENTITY_DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, errors = await process.communicate()
    assert process.returncode == 0, errors.decode()
    assert b"signing key rotated" in errors


async def test_the_jwks_over_grpc_and_on_the_admin_port_are_equal_and_verify_tokens(
    channel: grpc.aio.Channel, host: ServiceHost
) -> None:
    token = await new_session(channel, await registered(channel))
    over_grpc = await grpc_jwks(channel)
    assert await admin_jwks(host) == over_grpc
    [key] = over_grpc["keys"]
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
    assert verify_with_jwks(token, [key])["role"] == "courier"


async def test_a_token_issued_before_a_rotation_still_verifies_after_it(
    channel: grpc.aio.Channel, host: ServiceHost, database_url: str
) -> None:
    email = await registered(channel)
    before = await new_session(channel, email)
    await rotate_with_the_cli(database_url)
    after = await new_session(channel, email)
    jwks = await grpc_jwks(channel)
    keys: list[dict[str, str]] = jwks["keys"]
    assert len(keys) == 2
    assert verify_with_jwks(before, keys)["sub"] == verify_with_jwks(after, keys)["sub"]
    assert [key["kid"] for key in keys].index(verify_kid(after)) == 0
    # The admin port's copy catches up at its next refresh.
    for _ in range(100):
        if await admin_jwks(host) == jwks:
            break
        await asyncio.sleep(0.1)
    assert await admin_jwks(host) == jwks


def verify_kid(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


async def test_two_replicas_starting_at_once_on_a_fresh_database_make_one_active_key(
    postgres: LocalPostgres,
) -> None:
    database_url = await fresh_database(postgres)
    replicas = [bootstrap(identity_settings(database_url)) for _ in range(2)]
    try:
        await asyncio.gather(*(replica.start() for replica in replicas))
        connection = await asyncpg.connect(database_url)
        try:
            keys = await connection.fetch("SELECT kid, retired_at FROM signing_keys")
        finally:
            await connection.close()
        assert len(keys) == 1
        assert keys[0]["retired_at"] is None
        documents = [await admin_jwks(replica) for replica in replicas]
        assert documents[0] == documents[1]
        assert documents[0]["keys"][0]["kid"] == keys[0]["kid"]
    finally:
        await asyncio.gather(*(replica.stop() for replica in replicas))
