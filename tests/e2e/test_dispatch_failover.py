"""End to end: the simulator runs a small city through the mesh; then dispatch is killed
in the middle of matching and a new process takes its place, and every delivery is still
offered, assigned exactly once and delivered. (In this order: the second test leaves the
mesh without the launcher's dispatch.)"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from lastmile.fleet.v1 import courier_session_pb2
from services.devstack.components import SERVICES
from services.devstack.postgres import SUPERUSER
from tests.e2e.conftest import (
    MESH_ENVIRONMENT,
    RunningMesh,
    die_with_the_tests,
    start_mesh,
    stop_mesh,
)
from tests.e2e.courier import ScriptedCourier
from tests.e2e.rest import call, delivery_request, log_in, point, sign_up

pytestmark = pytest.mark.slow

LEIPZIG = (51.3397, 12.3731)
COURIERS = 3
BEFORE_KILL, AFTER_KILL = 6, 4


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMesh]:
    # never: the killed dispatch must stay down, its replacement is the test's own.
    running = start_mesh("direct", tmp_path_factory.mktemp("mesh-failover"), restart="never")
    try:
        yield running
    finally:
        stop_mesh(running)


@dataclass
class Ledger:
    """What every courier was assigned, as the couriers saw it."""

    assignments: list[tuple[str, str]] = field(default_factory=list)  # (delivery, courier)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, delivery_id: str, courier: str) -> None:
        with self.lock:
            self.assignments.append((delivery_id, courier))


def work_shifts(app: ScriptedCourier, name: str, ledger: Ledger, stop: threading.Event) -> None:
    """Accept every offer; carry every assignment straight to its drop-off."""
    while not stop.is_set():
        try:
            message = app.next_event(wait=0.5)
        except queue.Empty:
            continue
        kind = message.WhichOneof("message")
        if kind == "offer":
            accept = courier_session_pb2.AcceptOffer(offer_id=message.offer.offer_id)
            app.send(accept_offer=accept)
        elif kind == "assignment":
            delivery_id = message.assignment.delivery_id
            ledger.record(delivery_id, name)
            app.send(confirm_pickup=courier_session_pb2.ConfirmPickup(delivery_id=delivery_id))
            app.send(confirm_dropoff=courier_session_pb2.ConfirmDropoff(delivery_id=delivery_id))


def replace_dispatch(mesh: RunningMesh, log: str) -> subprocess.Popen[bytes]:
    """Kill the launcher's dispatch outright, then start a new one in its place."""
    os.kill(mesh.pid_of("dispatch"), signal.SIGKILL)
    [spec] = [s for s in SERVICES if s.name == "dispatch"]
    dsn = f"postgresql://{SUPERUSER}@127.0.0.1:{mesh.ports.postgres}/dispatch"
    env = {**os.environ, **MESH_ENVIRONMENT,
           **spec.env(mesh.ports, dsn, f"nats://127.0.0.1:{mesh.ports.nats}")}  # fmt: skip
    with open(log, "wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "services.dispatch"], env=env, stdout=sink, stderr=sink,
            preexec_fn=die_with_the_tests,
        )  # fmt: skip


def create(mesh: RunningMesh, token: str, count: int) -> list[str]:
    ids = []
    for n in range(count):
        pickup = point(LEIPZIG[0] + n * 0.001, LEIPZIG[1])
        request = delivery_request(pickup=pickup, dropoff=point(LEIPZIG[0] + 0.02, LEIPZIG[1]))
        status, created = call(mesh.base, "POST", "/v1/deliveries", request, token=token)
        assert status == 200, created
        ids.append(created["delivery"]["deliveryId"])
    return ids


def statuses(mesh: RunningMesh, token: str, ids: list[str]) -> dict[str, dict[str, str]]:
    found = {}
    for delivery_id in ids:
        status, body = call(mesh.base, "GET", f"/v1/deliveries/{delivery_id}", token=token)
        assert status == 200, body
        found[delivery_id] = body["delivery"]
    return found


def test_the_simulator_runs_a_small_city_through_the_mesh_and_every_delivery_arrives(
    mesh: RunningMesh,
) -> None:
    """`make simulate` in miniature: couriers through the edge over gRPC, customers over
    REST, every delivery accepted and carried to its drop-off."""
    stats = mesh.state_dir / "simulation.json"
    run = subprocess.run(
        [sys.executable, "-m", "services.simulator", f"--edge={mesh.base}",
         "--couriers=4", "--customers=2", "--rate=2", "--duration=5", "--speedup=100",
         "--accept-probability=1", "--bbox=51.03,13.70,51.07,13.78", "--drain-timeout=90",
         "--quiet", f"--json={stats}"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    summary = json.loads(stats.read_text())
    deliveries = summary["deliveries"]
    assert deliveries["created"] > 0
    assert deliveries["delivered"] == deliveries["created"], summary
    assert deliveries["still_open"] == 0
    assert summary["failed_creates"] == {}
    assert summary["latency_seconds"]["create_to_assigned"]["count"] == deliveries["created"]


def test_a_dispatch_killed_mid_flight_loses_no_delivery_and_assigns_none_twice(
    mesh: RunningMesh,
) -> None:
    customer = sign_up(mesh.base, "failover-customer@example.com", "ROLE_CUSTOMER")
    ledger, stop = Ledger(), threading.Event()
    apps, workers, account_of = [], [], {}
    for n in range(COURIERS):
        name = f"failover-courier-{n}"
        token = sign_up(mesh.base, f"{name}@example.com", "ROLE_COURIER")
        account_of[name] = log_in(mesh.base, f"{name}@example.com")[1]
        app = ScriptedCourier(mesh.grpc_target, token, name)
        app.go_online(LEIPZIG[0] - 0.001 * n, LEIPZIG[1])
        apps.append(app)
        workers.append(threading.Thread(target=work_shifts, args=(app, name, ledger, stop)))
    for worker in workers:
        worker.start()
    replacement = None
    try:
        ids = create(mesh, customer, BEFORE_KILL)
        give_up = time.monotonic() + 60
        while not ledger.assignments:  # kill it once matching is under way
            assert time.monotonic() < give_up, "no delivery was ever assigned"
            time.sleep(0.05)
        replacement = replace_dispatch(mesh, str(mesh.state_dir / "dispatch-2.log"))
        ids += create(mesh, customer, AFTER_KILL)

        give_up = time.monotonic() + 120
        while True:
            found = statuses(mesh, customer, ids)
            done = [d for d in found.values() if d["status"] == "DELIVERY_STATUS_DELIVERED"]
            if len(done) == len(ids) or time.monotonic() > give_up:
                break
            time.sleep(0.5)
        assert {d["deliveryId"]: d["status"] for d in found.values()} == dict.fromkeys(
            ids, "DELIVERY_STATUS_DELIVERED"
        )
        assigned = [delivery_id for delivery_id, _ in ledger.assignments]
        assert sorted(assigned) == sorted(ids), "each delivery reached exactly one courier once"
        for delivery_id, courier in ledger.assignments:
            assert found[delivery_id]["courierId"] == account_of[courier]
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=40)
        for app in apps:
            app.close()
        if replacement is not None:
            replacement.send_signal(signal.SIGTERM)
            try:
                replacement.wait(timeout=30)
            except subprocess.TimeoutExpired:
                replacement.kill()
                replacement.wait()
