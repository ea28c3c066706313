"""A real PostgreSQL and a real NATS JetStream for integration tests: one of each per
session, started only when a test asks for it and always stopped at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.devstack import LocalNats, LocalPostgres, free_port
from tests.integration.stack import running_nats


@pytest.fixture(scope="session")
async def postgres(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalPostgres]:
    server = LocalPostgres(tmp_path_factory.mktemp("postgres"), free_port())
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


@pytest.fixture(scope="session")
async def nats(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalNats]:
    async with running_nats(tmp_path_factory.mktemp("nats")) as server:
        yield server
