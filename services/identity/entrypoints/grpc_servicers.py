"""The public IdentityService and the mesh-only IdentityInternalService."""

from __future__ import annotations

from lastmile.identity.v1 import (
    identity_internal_pb2,
    identity_internal_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
)
from services.identity.entrypoints.proto_mapping import (
    account_message,
    jwks_message,
    register_command,
    session_message,
)
from services.identity.service_layer.accounts import AccountHandlers
from services.identity.service_layer.sessions import LogIn, SessionHandlers
from services.identity.service_layer.signing_keys import SigningKeyHandlers
from services.runtime.auth import require_role
from services.runtime.grpc_types import ServicerContext


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    """Register, log in and who-am-I."""

    def __init__(self, accounts: AccountHandlers, sessions: SessionHandlers) -> None:
        self._accounts = accounts
        self._sessions = sessions

    async def CreateAccount(
        self, request: identity_pb2.CreateAccountRequest, context: ServicerContext
    ) -> identity_pb2.CreateAccountResponse:
        account = await self._accounts.register(register_command(request))
        return identity_pb2.CreateAccountResponse(account=account_message(account))

    async def CreateSession(
        self, request: identity_pb2.CreateSessionRequest, context: ServicerContext
    ) -> identity_pb2.CreateSessionResponse:
        session = await self._sessions.log_in(LogIn(request.email, request.password))
        return session_message(session)

    async def GetCurrentAccount(
        self, request: identity_pb2.GetCurrentAccountRequest, context: ServicerContext
    ) -> identity_pb2.GetCurrentAccountResponse:
        caller = require_role()
        account = await self._accounts.current_account(caller.account_id)
        return identity_pb2.GetCurrentAccountResponse(account=account_message(account))


class IdentityInternalServicer(identity_internal_pb2_grpc.IdentityInternalServiceServicer):
    """Serves the token verification keys to the gateway."""

    def __init__(self, keys: SigningKeyHandlers) -> None:
        self._keys = keys

    async def GetJwks(
        self, request: identity_internal_pb2.GetJwksRequest, context: ServicerContext
    ) -> identity_internal_pb2.GetJwksResponse:
        return jwks_message(await self._keys.published_keys())
