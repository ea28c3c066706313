"""Health that follows dependencies: the monitor's probes drive the statuses of the proto
services that need the dependency and of the whole server, never liveness, and draining
wins; a service's own condition (a dispatch standby) composes with them."""

from __future__ import annotations

import logging

import pytest
from grpc_health.v1 import health_pb2
from grpc_health.v1._async import HealthServicer

from services.runtime.dependencies import BROKER, DATABASE
from services.runtime.dependency_monitor import DependencyMonitor
from services.runtime.readiness import LIVENESS, OVERALL, Readiness

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class SwitchableProbe:
    """A dependency the test takes down and brings back."""

    def __init__(self) -> None:
        self.reachable = True

    async def __call__(self, limit_seconds: float) -> None:
        if not self.reachable:
            raise ConnectionRefusedError(111, "Connection refused")


async def statuses(health: HealthServicer, *names: str) -> dict[str, int]:
    found = {}
    for name in names:
        reply = await health.Check(health_pb2.HealthCheckRequest(service=name), None)
        found[name] = reply.status
    return found


@pytest.fixture
async def wired() -> tuple[HealthServicer, Readiness, DependencyMonitor, SwitchableProbe]:
    health = HealthServicer()
    readiness = Readiness(health)
    monitor = DependencyMonitor()
    database = SwitchableProbe()
    monitor.watch(DATABASE, database)
    monitor.on_change(readiness.dependency_changed)
    readiness.declare("needs.Database", needs={DATABASE}, ready=True)
    readiness.declare("needs.Broker", needs={BROKER}, ready=True)
    readiness.declare("needs.Database.Standby", needs={DATABASE}, ready=False)
    await readiness.publish()
    return health, readiness, monitor, database


ALL = ("needs.Database", "needs.Broker", "needs.Database.Standby", OVERALL, LIVENESS)


async def test_a_database_down_turns_what_needs_it_and_the_server_not_serving_but_not_liveness(
    wired: tuple[HealthServicer, Readiness, DependencyMonitor, SwitchableProbe],
) -> None:
    health, _, monitor, database = wired
    database.reachable = False
    await monitor.probe_all()
    down = await statuses(health, *ALL)
    database.reachable = True
    await monitor.probe_all()
    back = await statuses(health, *ALL)

    assert down == {
        "needs.Database": NOT_SERVING,
        "needs.Broker": SERVING,
        "needs.Database.Standby": NOT_SERVING,
        OVERALL: NOT_SERVING,
        LIVENESS: SERVING,
    }
    assert back == {
        "needs.Database": SERVING,
        "needs.Broker": SERVING,
        "needs.Database.Standby": NOT_SERVING,
        OVERALL: SERVING,
        LIVENESS: SERVING,
    }


async def test_a_standby_that_leads_while_the_database_is_down_stays_not_serving(
    wired: tuple[HealthServicer, Readiness, DependencyMonitor, SwitchableProbe],
) -> None:
    health, readiness, monitor, database = wired
    database.reachable = False
    await monitor.probe_all()
    await readiness.set_ready("needs.Database.Standby", True)
    while_down = await statuses(health, "needs.Database.Standby")
    database.reachable = True
    await monitor.probe_all()

    assert while_down == {"needs.Database.Standby": NOT_SERVING}
    assert await statuses(health, "needs.Database.Standby") == {"needs.Database.Standby": SERVING}


async def test_draining_wins_over_a_dependency_coming_back(
    wired: tuple[HealthServicer, Readiness, DependencyMonitor, SwitchableProbe],
) -> None:
    health, _, monitor, database = wired
    database.reachable = False
    await monitor.probe_all()
    await health.enter_graceful_shutdown()
    database.reachable = True
    await monitor.probe_all()

    assert set((await statuses(health, *ALL)).values()) == {NOT_SERVING}


async def test_an_outage_is_logged_once_however_often_it_is_probed(
    wired: tuple[HealthServicer, Readiness, DependencyMonitor, SwitchableProbe],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, _, monitor, database = wired
    caplog.set_level(logging.INFO, logger="lastmile.dependencies")
    database.reachable = False
    for _ in range(5):
        monitor.call_failed(DATABASE, ConnectionRefusedError(111, "Connection refused"))
        await monitor.probe_all()
    database.reachable = True
    await monitor.probe_all()
    await monitor.probe_all()

    assert [(r.levelname, r.getMessage().split(";")[0]) for r in caplog.records] == [
        ("WARNING", "the database is unreachable"),
        ("INFO", "the database is reachable again"),
    ]
