"""identity over real gRPC, in process on port 0, wired with fakes: translation,
validation, authentication and the JWKS on both ports."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import json_format

from lastmile.identity.v1 import (
    identity_internal_pb2,
    identity_internal_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
)
from services.identity.adapters.es256_signer import Es256TokenSigner
from services.identity.bootstrap import JWKS_PATH, bootstrap
from services.identity.config import IdentitySettings
from services.identity.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime.server import ServiceHost
from tests.servers import serving
from tests.status_details import violations
from tests.unit.identity.fakes import Clock, FakePasswordHasher
from tests.unit.identity.tokens import verify_with_jwks

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def host(
    uow: UnitOfWorkFactory, hasher: FakePasswordHasher, signer: Es256TokenSigner, clock: Clock
) -> ServiceHost:
    settings = IdentitySettings(grpc_port=0, admin_port=0)
    return bootstrap(settings, uow=uow, hasher=hasher, signer=signer, clock=clock)


@pytest.fixture
async def channel(host: ServiceHost) -> AsyncIterator[grpc.aio.Channel]:
    async with serving(host) as address, grpc.aio.insecure_channel(address) as opened:
        yield opened


def new_account(role: identity_pb2.Role.ValueType) -> identity_pb2.CreateAccountRequest:
    return identity_pb2.CreateAccountRequest(
        account=identity_pb2.Account(email="sam@example.com", display_name="Sam", role=role),
        password=PASSWORD,
    )


async def test_register_log_in_and_who_am_i_round_trip(channel: grpc.aio.Channel) -> None:
    stub = identity_pb2_grpc.IdentityServiceStub(channel)
    created = await stub.CreateAccount(new_account(identity_pb2.ROLE_COURIER))
    session = await stub.CreateSession(
        identity_pb2.CreateSessionRequest(email="SAM@example.com", password=PASSWORD)
    )
    me = await stub.GetCurrentAccount(
        identity_pb2.GetCurrentAccountRequest(),
        metadata=(
            ("x-lastmile-account-id", created.account.account_id),
            ("x-lastmile-role", "courier"),
        ),
    )
    assert created.account.role == identity_pb2.ROLE_COURIER
    assert created.account.HasField("create_time")
    assert session.token_type == "Bearer"
    assert session.account == created.account == me.account


# The contract's rule on Account.role (buf.validate `in`), named by the runtime.
SELF_SERVICE_ROLES = "must be one of ROLE_CUSTOMER, ROLE_MERCHANT, ROLE_COURIER"


@pytest.mark.parametrize(
    ("role", "why"),
    [
        (identity_pb2.ROLE_OPS, SELF_SERVICE_ROLES),
        (identity_pb2.ROLE_UNSPECIFIED, SELF_SERVICE_ROLES),
        (42, SELF_SERVICE_ROLES),
    ],
)
async def test_ops_and_missing_roles_are_invalid_arguments_on_the_role_field(
    channel: grpc.aio.Channel, role: identity_pb2.Role.ValueType, why: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await identity_pb2_grpc.IdentityServiceStub(channel).CreateAccount(new_account(role))
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert violations(raised.value) == {"account.role": why}


async def test_who_am_i_without_a_forwarded_identity_is_unauthenticated(
    channel: grpc.aio.Channel,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await identity_pb2_grpc.IdentityServiceStub(channel).GetCurrentAccount(
            identity_pb2.GetCurrentAccountRequest()
        )
    assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_the_jwks_over_grpc_is_the_document_on_the_admin_port_and_verifies_tokens(
    channel: grpc.aio.Channel, host: ServiceHost
) -> None:
    reply = await identity_internal_pb2_grpc.IdentityInternalServiceStub(channel).GetJwks(
        identity_internal_pb2.GetJwksRequest()
    )
    url = f"http://127.0.0.1:{host.admin_port}{JWKS_PATH}"
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url).read())
    over_grpc = json_format.MessageToDict(reply)
    assert json.loads(body) == over_grpc
    assert len(over_grpc["keys"]) == 1
    # The configured ops account exists from start-up on.
    session = await identity_pb2_grpc.IdentityServiceStub(channel).CreateSession(
        identity_pb2.CreateSessionRequest(
            email="ops@lastmile.dev", password="dev-only-operator-password-change-me"
        )
    )
    assert verify_with_jwks(session.access_token, over_grpc["keys"])["role"] == "ops"
