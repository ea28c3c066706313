"""identity on the session's real PostgreSQL: a fresh database per test module, and an
in-process server on port 0 built by the real bootstrap."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from services.devstack import LocalPostgres
from services.identity.bootstrap import JWKS_PATH, bootstrap
from services.identity.config import IdentitySettings
from services.runtime.server import ServiceHost
from tests.servers import serving


async def fresh_database(postgres: LocalPostgres) -> str:
    name = f"identity_{uuid.uuid4().hex[:12]}"
    await postgres.ensure_database(name)
    return postgres.dsn(name)


def identity_settings(database_url: str, **overrides: Any) -> IdentitySettings:
    fields: dict[str, Any] = {
        "database_url": database_url,
        "grpc_port": 0,
        "admin_port": 0,
        "jwks_refresh_seconds": 0.2,
        "shutdown_grace_seconds": 1,
    }
    return IdentitySettings(**{**fields, **overrides})


@pytest.fixture(scope="module")
async def database_url(postgres: LocalPostgres) -> str:
    return await fresh_database(postgres)


@pytest.fixture(scope="module")
async def host(database_url: str) -> AsyncIterator[ServiceHost]:
    identity = bootstrap(identity_settings(database_url))
    async with serving(identity):
        yield identity


@pytest.fixture(scope="module")
async def channel(host: ServiceHost) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as opened:
        yield opened


def unique_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


async def admin_jwks(host: ServiceHost) -> dict[str, Any]:
    url = f"http://127.0.0.1:{host.admin_port}{JWKS_PATH}"
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
    document: dict[str, Any] = json.loads(body)
    return document
