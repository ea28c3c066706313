"""Register, log in, who-am-I and lockout over gRPC, on the real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc import error_details_pb2

from lastmile.identity.v1 import identity_pb2, identity_pb2_grpc
from services.identity.bootstrap import bootstrap
from services.runtime.server import ServiceHost
from services.runtime.status import rich_status
from tests.integration.identity.conftest import admin_jwks, identity_settings, unique_email
from tests.servers import serving
from tests.unit.identity.tokens import verify_with_jwks

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery staple"
DetailT = TypeVar("DetailT", bound=Message)


def stub(channel: grpc.aio.Channel) -> identity_pb2_grpc.IdentityServiceAsyncStub:
    return identity_pb2_grpc.IdentityServiceStub(channel)


async def register(
    channel: grpc.aio.Channel,
    email: str,
    role: identity_pb2.Role.ValueType = identity_pb2.ROLE_CUSTOMER,
    password: str = PASSWORD,
) -> identity_pb2.Account:
    reply = await stub(channel).CreateAccount(
        identity_pb2.CreateAccountRequest(
            account=identity_pb2.Account(email=email, display_name="Dana", role=role),
            password=password,
        )
    )
    return reply.account


async def log_in(
    channel: grpc.aio.Channel, email: str, password: str = PASSWORD
) -> identity_pb2.CreateSessionResponse:
    return await stub(channel).CreateSession(
        identity_pb2.CreateSessionRequest(email=email, password=password)
    )


async def failure(call: Awaitable[object]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value


def detail(error: grpc.aio.AioRpcError, kind: type[DetailT]) -> DetailT:
    status = rich_status(error)
    assert status is not None
    for packed in status.details:
        unpacked = kind()
        if packed.Unpack(unpacked):
            return unpacked
    raise AssertionError(f"no {kind.__name__} detail")


def reason(error: grpc.aio.AioRpcError) -> str:
    return str(detail(error, error_details_pb2.ErrorInfo).reason)


async def test_register_log_in_and_who_am_i_with_the_tokens_sub_and_role_forwarded(
    channel: grpc.aio.Channel, host: ServiceHost
) -> None:
    email = unique_email()
    account = await register(channel, email, identity_pb2.ROLE_MERCHANT)
    session = await log_in(channel, email.upper())
    claims = verify_with_jwks(session.access_token, (await admin_jwks(host))["keys"])
    me = await stub(channel).GetCurrentAccount(
        identity_pb2.GetCurrentAccountRequest(),
        metadata=(("x-lastmile-account-id", claims["sub"]), ("x-lastmile-role", claims["role"])),
    )
    assert (claims["sub"], claims["role"]) == (account.account_id, "merchant")
    assert uuid.UUID(account.account_id)
    assert me.account == account == session.account
    assert me.account.email == email
    assert claims["exp"] - claims["iat"] == 900
    assert session.expire_time.seconds == claims["exp"]


async def test_an_email_registered_again_in_other_case_already_exists(
    channel: grpc.aio.Channel,
) -> None:
    email = unique_email()
    await register(channel, email)
    error = await failure(register(channel, email.upper(), identity_pb2.ROLE_COURIER))
    assert error.code() is grpc.StatusCode.ALREADY_EXISTS
    assert reason(error) == "ALREADY_EXISTS"


async def test_a_bad_email_and_a_weak_password_are_named_as_field_violations(
    channel: grpc.aio.Channel,
) -> None:
    error = await failure(register(channel, "not an email", password="short"))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    bad_request = detail(error, error_details_pb2.BadRequest)
    assert {v.field for v in bad_request.field_violations} == {"account.email", "password"}
    error = await failure(register(channel, "ana.lopez@example.com", password="ANA.LOPEZ-1234"))
    assert "must not contain the email" in (error.details() or "")


async def test_a_wrong_password_and_an_unknown_email_give_the_identical_error(
    channel: grpc.aio.Channel,
) -> None:
    email = unique_email()
    await register(channel, email)
    wrong = await failure(log_in(channel, email, "wrong password 123"))
    unknown = await failure(log_in(channel, unique_email(), PASSWORD))
    assert wrong.code() is unknown.code() is grpc.StatusCode.UNAUTHENTICATED
    assert wrong.details() == unknown.details()
    assert rich_status(wrong) == rich_status(unknown)
    assert reason(wrong) == "INVALID_CREDENTIALS"


async def test_five_failures_lock_the_account_with_retry_info_even_across_replicas(
    channel: grpc.aio.Channel, database_url: str
) -> None:
    email = unique_email()
    await register(channel, email)
    for _ in range(5):
        error = await failure(log_in(channel, email, "wrong password 123"))
        assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    locked = await failure(log_in(channel, email, PASSWORD))
    assert locked.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert reason(locked) == "ACCOUNT_LOCKED"
    retry = detail(locked, error_details_pb2.RetryInfo)
    assert timedelta(minutes=14) < retry.retry_delay.ToTimedelta() <= timedelta(minutes=15)
    # The count lives in the database: another replica sees the same lock.
    async with (
        serving(bootstrap_replica(database_url)) as address,
        grpc.aio.insecure_channel(address) as other,
    ):
        elsewhere = await failure(log_in(other, email, PASSWORD))
    assert elsewhere.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


def bootstrap_replica(database_url: str) -> ServiceHost:
    return bootstrap(identity_settings(database_url, admin_port=-1))


async def test_who_am_i_needs_an_identity_and_an_existing_account(
    channel: grpc.aio.Channel,
) -> None:
    anonymous = await failure(
        stub(channel).GetCurrentAccount(identity_pb2.GetCurrentAccountRequest())
    )
    vanished = await failure(
        stub(channel).GetCurrentAccount(
            identity_pb2.GetCurrentAccountRequest(),
            metadata=(
                ("x-lastmile-account-id", str(uuid.uuid4())),
                ("x-lastmile-role", "customer"),
            ),
        )
    )
    assert anonymous.code() is grpc.StatusCode.UNAUTHENTICATED
    assert vanished.code() is grpc.StatusCode.NOT_FOUND


async def test_the_configured_ops_account_logs_in_as_ops_and_ops_cannot_self_register(
    channel: grpc.aio.Channel, host: ServiceHost
) -> None:
    session = await log_in(channel, "ops@lastmile.dev", "dev-only-operator-password-change-me")
    claims = verify_with_jwks(session.access_token, (await admin_jwks(host))["keys"])
    assert claims["role"] == "ops"
    refused = await failure(register(channel, unique_email(), identity_pb2.ROLE_OPS))
    assert refused.code() is grpc.StatusCode.INVALID_ARGUMENT
