"""identity's use cases wired with in-memory fakes and the real ES256 signer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.identity.adapters.es256_signer import Es256TokenSigner
from services.identity.service_layer.accounts import AccountHandlers
from services.identity.service_layer.sessions import SessionHandlers, TokenPolicy
from services.identity.service_layer.signing_keys import SigningKeyHandlers
from services.identity.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from tests.unit.identity.fakes import Clock, FakePasswordHasher, FakeUnitOfWork, Store
from tests.unit.identity.tokens import AUDIENCE, ISSUER

TOKEN_TTL = timedelta(minutes=15)
KEY_SECRET = "unit-test-key-encryption-secret-0123456789"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def uow(store: Store) -> UnitOfWorkFactory:
    def new_unit() -> UnitOfWork:
        return FakeUnitOfWork(store)

    return new_unit


@pytest.fixture
def hasher() -> FakePasswordHasher:
    return FakePasswordHasher()


@pytest.fixture
def signer() -> Es256TokenSigner:
    return Es256TokenSigner(KEY_SECRET)


@pytest.fixture
def accounts(uow: UnitOfWorkFactory, hasher: FakePasswordHasher, clock: Clock) -> AccountHandlers:
    return AccountHandlers(uow, hasher, clock)


@pytest.fixture
def sessions(
    uow: UnitOfWorkFactory, hasher: FakePasswordHasher, signer: Es256TokenSigner, clock: Clock
) -> SessionHandlers:
    return SessionHandlers(uow, hasher, signer, clock, TokenPolicy(ISSUER, AUDIENCE, TOKEN_TTL))


@pytest.fixture
def keys(uow: UnitOfWorkFactory, signer: Es256TokenSigner, clock: Clock) -> SigningKeyHandlers:
    return SigningKeyHandlers(uow, signer, clock, TOKEN_TTL, leeway=timedelta(seconds=60))
