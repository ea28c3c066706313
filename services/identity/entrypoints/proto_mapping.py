"""lastmile.identity.v1 messages <-> identity's domain objects."""

from __future__ import annotations

from collections.abc import Sequence

from lastmile.identity.v1 import identity_internal_pb2, identity_pb2
from services.contracts import common_v1
from services.identity.domain.account import Account
from services.identity.domain.session import Session
from services.identity.domain.signing_key import SigningKey
from services.identity.service_layer.accounts import RegisterAccount
from services.runtime.context import Role

_ROLES = {
    identity_pb2.ROLE_CUSTOMER: Role.CUSTOMER,
    identity_pb2.ROLE_MERCHANT: Role.MERCHANT,
    identity_pb2.ROLE_COURIER: Role.COURIER,
    identity_pb2.ROLE_OPS: Role.OPS,
}
_ROLE_VALUES = {role: value for value, role in _ROLES.items()}


def register_command(request: identity_pb2.CreateAccountRequest) -> RegisterAccount:
    account = request.account
    return RegisterAccount(
        email=account.email,
        password=request.password,
        display_name=account.display_name,
        role=_ROLES.get(account.role),
    )


def account_message(account: Account) -> identity_pb2.Account:
    return identity_pb2.Account(
        account_id=account.account_id,
        email=account.email.as_given,
        display_name=account.display_name,
        role=_ROLE_VALUES[account.role],
        create_time=common_v1.timestamp_message(account.created_at),
    )


def session_message(session: Session) -> identity_pb2.CreateSessionResponse:
    return identity_pb2.CreateSessionResponse(
        access_token=session.access_token,
        token_type="Bearer",
        expire_time=common_v1.timestamp_message(session.expires_at),
        account=account_message(session.account),
    )


def jwks_message(keys: Sequence[SigningKey]) -> identity_internal_pb2.GetJwksResponse:
    return identity_internal_pb2.GetJwksResponse(
        keys=[identity_internal_pb2.JsonWebKey(**key.jwk()) for key in keys]
    )
