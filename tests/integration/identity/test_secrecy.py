"""Passwords never reach a log line or a response, whatever the outcome of the call."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from lastmile.identity.v1 import identity_pb2, identity_pb2_grpc
from services.devstack import LocalPostgres
from services.identity.bootstrap import bootstrap
from services.identity.config import DEVELOPMENT_OPS_PASSWORD
from tests.captured_log import CapturedLog, captured_log
from tests.integration.identity.conftest import fresh_database, identity_settings, unique_email
from tests.servers import serving

pytestmark = pytest.mark.slow
PASSWORD = "a secret nobody should ever read 42"


@pytest.fixture
def every_log_line() -> Iterator[CapturedLog]:
    """Every line the process writes, at DEBUG, as the service writes them."""
    with captured_log("identity", "DEBUG") as log:
        yield log


async def test_passwords_appear_in_no_log_line_and_no_response(
    postgres: LocalPostgres, every_log_line: CapturedLog
) -> None:
    email = unique_email()
    host = bootstrap(identity_settings(await fresh_database(postgres)))
    responses: list[bytes] = []
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        created = await stub.CreateAccount(
            identity_pb2.CreateAccountRequest(
                account=identity_pb2.Account(
                    email=email, display_name="Lee", role=identity_pb2.ROLE_CUSTOMER
                ),
                password=PASSWORD,
            )
        )
        session = await stub.CreateSession(
            identity_pb2.CreateSessionRequest(email=email, password=PASSWORD)
        )
        responses += [created.SerializeToString(), session.SerializeToString()]
        for attempt in (PASSWORD + "!", "short"):
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await stub.CreateSession(
                    identity_pb2.CreateSessionRequest(email=email, password=attempt)
                )
            responses.append(repr(failed.value).encode())
        with pytest.raises(grpc.aio.AioRpcError) as weak:
            await stub.CreateAccount(
                identity_pb2.CreateAccountRequest(
                    account=identity_pb2.Account(email=unique_email(), display_name="Lee"),
                    password="weakpass",
                )
            )
        responses.append(repr(weak.value).encode())
    logged = every_log_line.text()
    assert "CreateSession" in logged, "the capture saw no access log at all"
    for secret in (PASSWORD, "weakpass", DEVELOPMENT_OPS_PASSWORD, "$argon2"):
        assert secret not in logged
        assert all(secret.encode() not in response for response in responses)
