"""The one place where identity is wired; tests pass fakes for any keyword."""

from __future__ import annotations

from datetime import timedelta

from lastmile.identity.v1 import (
    identity_internal_pb2,
    identity_internal_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
)
from services.identity.adapters.argon2_hasher import Argon2PasswordHasher
from services.identity.adapters.es256_signer import Es256TokenSigner
from services.identity.adapters.postgres_uow import PostgresUnitOfWork
from services.identity.adapters.schema import migrate_exclusively
from services.identity.config import IdentitySettings
from services.identity.domain.lockout import LockoutPolicy
from services.identity.entrypoints.grpc_servicers import IdentityInternalServicer, IdentityServicer
from services.identity.entrypoints.jwks_document import JwksDocument
from services.identity.entrypoints.key_maintenance import KeyMaintenance
from services.identity.service_layer.accounts import AccountHandlers, ProvisionOpsAccount
from services.identity.service_layer.ports import Clock, PasswordHasher, TokenSigner
from services.identity.service_layer.sessions import SessionHandlers, TokenPolicy
from services.identity.service_layer.signing_keys import SigningKeyHandlers
from services.identity.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime.clock import system_clock
from services.runtime.database import Database
from services.runtime.dependencies import DATABASE
from services.runtime.server import ServiceBinding, ServiceHost

JWKS_PATH = "/.well-known/jwks.json"


def signing_key_handlers(
    settings: IdentitySettings, uow: UnitOfWorkFactory, signer: TokenSigner, clock: Clock
) -> SigningKeyHandlers:
    max_age = settings.signing_key_max_age_days
    return SigningKeyHandlers(
        uow=uow,
        signer=signer,
        clock=clock,
        token_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
        leeway=timedelta(seconds=settings.token_leeway_seconds),
        max_key_age=timedelta(days=max_age) if max_age else None,
    )


def bootstrap(
    settings: IdentitySettings,
    *,
    uow: UnitOfWorkFactory | None = None,
    hasher: PasswordHasher | None = None,
    signer: TokenSigner | None = None,
    clock: Clock = system_clock,
) -> ServiceHost:
    host = ServiceHost(settings, bindings=[])
    if uow is None:
        database = Database(settings.database_url)

        async def prepare_database() -> None:
            await migrate_exclusively(settings.database_url)
            await database.connect()

        host.on_start.append(prepare_database)
        host.on_shutdown.append(database.close)
        uow = lambda: PostgresUnitOfWork(database)  # noqa: E731
        host.dependencies.watch(DATABASE, database.ping)
    hasher = hasher or Argon2PasswordHasher()
    signer = signer or Es256TokenSigner(settings.key_encryption_secret.get_secret_value())
    accounts = AccountHandlers(uow, hasher, clock)
    sessions = SessionHandlers(
        uow,
        hasher,
        signer,
        clock,
        TokenPolicy(
            settings.token_issuer,
            settings.token_audience,
            timedelta(seconds=settings.access_token_ttl_seconds),
        ),
        LockoutPolicy(
            settings.lockout_max_failures,
            timedelta(seconds=settings.lockout_window_seconds),
            timedelta(seconds=settings.lockout_duration_seconds),
        ),
    )
    keys = signing_key_handlers(settings, uow, signer, clock)
    document = JwksDocument()
    maintenance = KeyMaintenance(keys, document, settings.jwks_refresh_seconds)
    host.on_start.append(maintenance.start)
    host.on_shutdown.append(maintenance.stop)
    if settings.ops_email:
        ops = ProvisionOpsAccount(
            settings.ops_email, settings.ops_password.get_secret_value(), settings.ops_display_name
        )

        async def provision_ops() -> None:
            await accounts.provision_ops_account(ops)

        host.on_start.append(provision_ops)
    host.admin_documents[JWKS_PATH] = document
    public = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"]
    internal = identity_internal_pb2.DESCRIPTOR.services_by_name["IdentityInternalService"]
    host.bindings = [
        ServiceBinding(
            public.full_name,
            IdentityServicer(accounts, sessions),
            identity_pb2_grpc.add_IdentityServiceServicer_to_server,
        ),
        ServiceBinding(
            internal.full_name,
            IdentityInternalServicer(keys),
            identity_internal_pb2_grpc.add_IdentityInternalServiceServicer_to_server,
        ),
    ]
    return host
