"""Fault: PostgreSQL is killed (postmaster and backends, kill -9) and kept down for 10 s
by the supervisor's hold file. Meanwhile every call that needs the database answers 503
with RetryInfo (never 500), the services that need it report NOT_SERVING on their own
ports while pricing stays SERVING, and afterwards the mesh recovers by itself: the
supervisor restarts PostgreSQL, the services reconnect, report SERVING again and creates
succeed."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx
import pytest

from services.devstack.components import SERVICES
from tests.chaos.figures import FaultFigures
from tests.chaos.keyed_creates import edge_client, has_retry_info
from tests.chaos.mesh_faults import SPECS, all_serving, component, health, restarted
from tests.chaos.postgres_outage import PostgresOutage
from tests.e2e.conftest import RunningMesh
from tests.e2e.rest import PASSWORD, delivery_request, sign_up

pytestmark = [pytest.mark.slow, pytest.mark.chaos(ci=True), pytest.mark.timeout(300)]

OUTAGE_SECONDS = 10.0
RECOVERY_LIMIT_SECONDS = 120.0
PROBE_PAUSE_SECONDS = 0.1
EMAIL = "chaos-postgres@example.com"
RETRY_INFO = "+RetryInfo"  # marks an answer whose status body carried one
DATABASE_SERVICES = tuple(spec.name for spec in SERVICES if spec.database)


async def test_postgres_down_for_10_s_gives_503s_and_not_serving_then_recovers_by_itself(
    mesh: RunningMesh, figures: FaultFigures
) -> None:
    await all_serving(mesh)
    token = await asyncio.to_thread(sign_up, mesh.base, EMAIL, "ROLE_CUSTOMER")
    async with edge_client(mesh.base, 8) as client:
        customer = Customer(client, token)
        existing = await customer.create()
        assert existing.status_code == 200, existing.text
        delivery_id = existing.json()["delivery"]["deliveryId"]

        outage, before = PostgresOutage(mesh), component(mesh, "postgres")
        killed = await outage.begin()
        answers: Counter[str] = Counter()  # "create 503+RetryInfo", "me 503+RetryInfo", ...
        not_serving: set[str] = set()
        pricing_statuses: set[str] = set()
        stayed_down = True
        try:
            end = time.monotonic() + OUTAGE_SECONDS
            while time.monotonic() < end:
                for call, answer in await customer.every_call(delivery_id):
                    answers[f"{call} {answer}"] += 1
                for name in DATABASE_SERVICES:
                    status = await health(mesh, name, SPECS[name].health_service)
                    if status == "NOT_SERVING":
                        not_serving.add(name)
                pricing = await health(mesh, "pricing", SPECS["pricing"].health_service)
                pricing_statuses.add(pricing)
                stayed_down &= await outage.is_down()
                await asyncio.sleep(PROBE_PAUSE_SECONDS)
        finally:
            outage.end()

        recovered_after = await customer.seconds_until_a_create_succeeds()
        postgres = await restarted(mesh, before)
        await all_serving(mesh)
        after = [await customer.create() for _ in range(5)]
    statuses = Counter(answer.split()[1].removesuffix(RETRY_INFO) for answer in answers.elements())
    without_retry_info = sum(n for answer, n in answers.items() if answer.endswith(" 503"))
    figures.record(
        outage_seconds=OUTAGE_SECONDS,
        processes_killed=killed,
        stayed_down=stayed_down,
        postgres_restarts=postgres.restarts,
        calls_during_outage=sum(answers.values()),
        answers_during_outage=dict(sorted(answers.items())),
        other_than_503=sum(n for status, n in statuses.items() if status != "503"),
        without_retry_info=without_retry_info,
        not_serving_seen=sorted(not_serving),
        recovered_after_seconds=round(recovered_after, 1),
        creates_after_recovery=dict(Counter(str(r.status_code) for r in after)),
    )

    assert stayed_down, "PostgreSQL came back while the supervisor was told to hold it"
    assert set(statuses) == {"503"}, f"answers while PostgreSQL was down: {answers}"
    assert without_retry_info == 0, f"503s without RetryInfo: {answers}"
    assert not_serving == set(DATABASE_SERVICES)
    assert pricing_statuses == {"SERVING"}, "pricing needs no database"
    assert [r.status_code for r in after] == [200] * 5


class Customer:
    """One customer's calls through the edge, each of which needs a database."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self._client, self._auth = client, {"authorization": f"Bearer {token}"}

    async def create(self) -> httpx.Response:
        key = {"idempotency-key": str(uuid.uuid4())}
        return await self._client.post(
            "/v1/deliveries", json=delivery_request(), headers=self._auth | key
        )

    async def every_call(self, delivery_id: str) -> list[tuple[str, str]]:
        """Create, list, get, me and log-in, once each: the HTTP status each got, or
        "timeout"/"connection" when none came."""
        get, post = self._client.get, self._client.post
        calls: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
            "create": self.create,
            "list": lambda: get("/v1/deliveries", headers=self._auth),
            "get": lambda: get(f"/v1/deliveries/{delivery_id}", headers=self._auth),
            "me": lambda: get("/v1/me", headers=self._auth),
            "log-in": lambda: post("/v1/sessions", json={"email": EMAIL, "password": PASSWORD}),
        }
        answers = []
        for name, call in calls.items():
            try:
                response = await call()
                retry_info = response.status_code == 503 and has_retry_info(response)
                answers.append((name, f"{response.status_code}{RETRY_INFO * retry_info}"))
            except httpx.TimeoutException:
                answers.append((name, "timeout"))
            except httpx.TransportError:
                answers.append((name, "connection"))
        return answers

    async def seconds_until_a_create_succeeds(self) -> float:
        """Retry a create (as a client honouring 503 would) until it succeeds."""
        started = time.monotonic()
        while (response := await self.create()).status_code != 200:
            assert response.status_code == 503, response.text
            assert time.monotonic() - started < RECOVERY_LIMIT_SECONDS, "no recovery"
            await asyncio.sleep(0.5)
        return time.monotonic() - started
