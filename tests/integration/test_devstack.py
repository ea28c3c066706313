"""The local stack's PostgreSQL and NATS JetStream, as real processes: databases, restarts
that keep data, clear errors on busy ports and failed starts, JetStream dedup and fsync; and
the supervised stack: killed components reported, reaped and restarted, stale locks removed
only when proven stale, `status` and `stop` of the launcher, also once it was killed."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest
from nats import connect
from nats.js.client import JetStreamContext

from services.devstack import (
    DevstackError,
    LocalNats,
    LocalPostgres,
    PortInUseError,
    ServerStartError,
    free_port,
    is_port_free,
)
from services.devstack.components import Ports
from services.devstack.postgres_locks import LOCK_FILE, LockFile, postgres_processes, stale_locks
from services.devstack.process_identity import (
    identify,
    is_alive,
    is_same_process,
    processes_of_state_dir,
)
from services.devstack.restart_policy import Backoff, RestartPolicy
from services.devstack.run_file import ComponentRecord, RunRecord
from services.devstack.supervisor import Supervisor
from tests.e2e.conftest import die_with_the_tests

pytestmark = pytest.mark.slow
T = TypeVar("T")
DEVSTACK = [sys.executable, "-m", "services.devstack"]


@asynccontextmanager
async def jetstream(server: LocalNats) -> AsyncIterator[JetStreamContext]:
    client = await connect(server.url, connect_timeout=5, allow_reconnect=False)
    try:
        yield client.jetstream(timeout=5)
    finally:
        await client.close()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def test_a_database_can_be_ensured_twice_and_is_then_queried_through_asyncpg(
    postgres: LocalPostgres,
) -> None:
    name = unique("orders")
    await postgres.ensure_database(name)
    await postgres.ensure_database(name)

    connection = await asyncpg.connect(postgres.dsn(name))
    try:
        assert await connection.fetchval("SELECT current_database()") == name
        assert await connection.fetchval("SHOW server_encoding") == "UTF8"
    finally:
        await connection.close()


async def test_rows_survive_a_stop_and_start_on_the_same_data_dir(
    postgres: LocalPostgres,
) -> None:
    name = unique("fleet")
    await postgres.ensure_database(name)
    connection = await asyncpg.connect(postgres.dsn(name))
    try:
        await connection.execute("CREATE TABLE courier (name text)")
        await connection.execute("INSERT INTO courier VALUES ('ada')")
    finally:
        await connection.close()
    first_pid = postgres.pid

    async with postgres.stopped():
        assert postgres.pid is None
        assert is_port_free(postgres.port)

    assert postgres.pid not in (None, first_pid)
    connection = await asyncpg.connect(postgres.dsn(name))
    try:
        assert await connection.fetchval("SELECT name FROM courier") == "ada"
    finally:
        await connection.close()


async def test_a_second_postgres_on_a_busy_port_fails_with_an_error_naming_the_port(
    postgres: LocalPostgres, tmp_path: Path
) -> None:
    second = LocalPostgres(tmp_path / "second", postgres.port)

    with pytest.raises(PortInUseError, match=f"port {postgres.port} "):
        await second.start()

    assert second.pid is None
    connection = await asyncpg.connect(postgres.dsn())
    await connection.close()


async def test_a_postgres_that_cannot_start_reports_its_port_and_log_tail(
    tmp_path: Path,
) -> None:
    server = LocalPostgres(tmp_path / "broken", free_port())
    await server.start()
    await server.stop()
    with (server.pgdata / "postgresql.conf").open("a") as config:
        config.write("no_such_setting = 1\n")

    with pytest.raises(ServerStartError) as failure:
        await server.start()

    assert f"port {server.port}" in str(failure.value)
    assert 'unrecognized configuration parameter "no_such_setting"' in str(failure.value)
    assert server.pid is None


async def test_jetstream_stores_a_message_published_twice_with_one_msg_id_once(
    nats: LocalNats,
) -> None:
    stream = unique("DEDUP")
    async with jetstream(nats) as js:
        await js.add_stream(name=stream, subjects=[f"{stream}.>"])
        headers = {"Nats-Msg-Id": "delivery-42-assigned"}
        first = await js.publish(f"{stream}.assigned", b"courier-7", headers=headers)
        second = await js.publish(f"{stream}.assigned", b"courier-7", headers=headers)
        info = await js.stream_info(stream)

    assert not first.duplicate
    assert second.duplicate
    assert second.seq == first.seq
    assert info.state.messages == 1


async def test_a_message_published_before_stop_is_still_there_after_start(
    nats: LocalNats,
) -> None:
    stream = unique("PERSIST")
    async with jetstream(nats) as js:
        await js.add_stream(name=stream, subjects=[f"{stream}.>"])
        ack = await js.publish(f"{stream}.created", b"order-1")

    async with nats.stopped():
        assert nats.pid is None
        assert is_port_free(nats.port)

    async with jetstream(nats) as js:
        stored = await js.get_msg(stream, ack.seq)
    assert stored.data == b"order-1"


async def test_the_server_fsyncs_every_jetstream_write(nats: LocalNats) -> None:
    varz = await nats.monitoring("varz")

    assert varz["jetstream"]["config"]["sync_always"] is True
    assert "sync_interval: always" in nats.config_path.read_text()


async def test_a_nats_that_cannot_start_reports_its_port_and_log_tail(tmp_path: Path) -> None:
    server = LocalNats(tmp_path / "broken", free_port(), free_port())
    # JetStream keeps its files in <store_dir>/jetstream; a plain file there stops it.
    (tmp_path / "broken" / "store").mkdir(parents=True)
    (tmp_path / "broken" / "store" / "jetstream").write_text("not a directory")

    with pytest.raises(ServerStartError) as failure:
        await server.start()

    assert f"port {server.port}" in str(failure.value)
    assert "storage directory is not a directory" in str(failure.value)
    assert server.pid is None


# -- Supervised: a component that is killed is reported, reaped and started again ------------


async def until(found: Callable[[], T | None], what: str, limit: float = 90) -> T:
    give_up = time.monotonic() + limit
    while (value := found()) is None:
        assert time.monotonic() < give_up, f"gave up waiting for {what}"
        await asyncio.sleep(0.1)
    return value


def eventually(found: Callable[[], T | None], what: str, limit: float = 90) -> T:
    """`until` for tests that drive processes from outside, without an event loop."""
    give_up = time.monotonic() + limit
    while (value := found()) is None:
        assert time.monotonic() < give_up, f"gave up waiting for {what}"
        time.sleep(0.1)
    return value


def component(state_dir: Path, name: str) -> ComponentRecord:
    record = RunRecord.read(state_dir)
    assert record is not None, "no run.json"
    [entry] = [c for c in record.components if c.name == name]
    return entry


def back_up(state_dir: Path, name: str, restarts: int) -> Callable[[], ComponentRecord | None]:
    """The run.json entry of `name` once it is up after `restarts` restarts."""

    def check() -> ComponentRecord | None:
        entry = component(state_dir, name)
        return entry if entry.state == "up" and entry.restarts >= restarts else None

    return check


def assert_reaped(pid: int, start_time: int | None) -> None:
    """The process is gone from /proc: no zombie of it is left (its pid may be reused)."""
    found = identify(pid)
    assert found is None or found.start_time != start_time, f"pid {pid} is still {found}"


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A state dir outside pytest's basetemp: every pytest session that starts (of other
    worktrees too) resets /tmp/pytest-of-<user> to 0700, which would cut PostgreSQL's
    system user off its data dir in the middle of initdb."""
    directory = Path(tempfile.mkdtemp(prefix="lastmile-devstack-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def reports() -> list[str]:
    """What the supervisor reports (the launcher prints it on stderr)."""
    return []


@pytest.fixture
async def supervisor(scratch: Path, reports: list[str]) -> AsyncIterator[Supervisor]:
    watching = Supervisor(scratch, RestartPolicy.ALWAYS, Backoff(initial=0.1), reports.append)
    watching.watch_in_background()
    try:
        yield watching
    finally:
        await watching.stop_all()


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated live process, to stand for one that got a dead server's pid."""
    process = subprocess.Popen(["sleep", "60"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


async def test_a_killed_postgres_is_reported_reaped_and_serving_its_data_again(
    supervisor: Supervisor, reports: list[str], scratch: Path
) -> None:
    server = LocalPostgres(scratch / "postgres", free_port())
    await supervisor.start("postgres", f"127.0.0.1:{server.port}", server)
    await server.ensure_database("kept")
    connection = await asyncpg.connect(server.dsn("kept"))
    await connection.execute("CREATE TABLE courier (name text); INSERT INTO courier VALUES ('ada')")
    await connection.close()
    killed, start_time = server.pid, server.process.start_time
    assert killed is not None

    os.kill(killed, signal.SIGKILL)
    entry = await until(back_up(scratch, "postgres", restarts=1), "postgres to come back")

    assert_reaped(killed, start_time)
    assert (entry.last_exit, entry.last_exit_code) == ("killed by SIGKILL", -signal.SIGKILL)
    assert entry.pid == server.pid != killed
    assert LockFile.read(server.pgdata / LOCK_FILE) == LockFile(
        server.pgdata / LOCK_FILE, server.pid
    )
    assert f"postgres (pid {killed}) exited unexpectedly (killed by SIGKILL)" in "\n".join(reports)
    assert f"last lines of {server.log_path}" in "\n".join(reports)
    connection = await asyncpg.connect(server.dsn("kept"))
    try:
        assert await connection.fetchval("SELECT name FROM courier") == "ada"
    finally:
        await connection.close()


async def test_a_lock_file_naming_a_pid_that_another_program_now_has_is_removed_on_start(
    scratch: Path, bystander: subprocess.Popen[bytes]
) -> None:
    server = LocalPostgres(scratch / "postgres", free_port())
    await server.start()
    await server.stop()
    # What a crash leaves when the postmaster's pid has gone to another process since:
    # PostgreSQL alone refuses to start ("lock file already exists").
    (server.pgdata / LOCK_FILE).write_text(f"{bystander.pid}\n{server.pgdata}\n")

    await server.start()
    try:
        lock = LockFile.read(server.pgdata / LOCK_FILE)
        assert lock == LockFile(server.pgdata / LOCK_FILE, server.pid)
        assert bystander.poll() is None, "the process that got the pid is left alone"
    finally:
        await server.stop()


async def test_the_lock_file_of_a_live_postgres_is_never_taken_for_stale(
    postgres: LocalPostgres,
) -> None:
    with pytest.raises(DevstackError, match=f"a postgres \\(pid {postgres.pid}\\) still runs"):
        stale_locks(postgres.pgdata, postgres.pgdata, postgres.port)

    assert (postgres.pgdata / LOCK_FILE).exists()
    connection = await asyncpg.connect(postgres.dsn())
    await connection.close()


async def test_a_killed_nats_is_reported_reaped_and_serving_its_streams_again(
    supervisor: Supervisor, reports: list[str], scratch: Path
) -> None:
    server = LocalNats(scratch / "nats", free_port(), free_port())
    await supervisor.start("nats", server.url, server)
    stream = unique("KILLED")
    async with jetstream(server) as js:
        await js.add_stream(name=stream, subjects=[f"{stream}.>"])
        ack = await js.publish(f"{stream}.created", b"order-1")
    killed, start_time = server.pid, server.process.start_time
    assert killed is not None

    os.kill(killed, signal.SIGKILL)
    entry = await until(back_up(scratch, "nats", restarts=1), "nats to come back")

    assert_reaped(killed, start_time)
    assert entry.last_exit == "killed by SIGKILL"
    assert entry.pid == server.pid != killed
    assert f"nats (pid {killed}) exited unexpectedly (killed by SIGKILL)" in "\n".join(reports)
    async with jetstream(server) as js:
        stored = await js.get_msg(stream, ack.seq)
    assert stored.data == b"order-1"


# -- The launcher (`make run`) as a process: status, restarts, and `make stop` ----------------


@contextmanager
def launched(state_dir: Path, *flags: str) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m services.devstack run --only pricing` on free ports, until it says it runs;
    whatever is left of it is stopped at the end."""
    ports = [f"--{p.name.replace('_', '-')}-port={free_port()}" for p in fields(Ports)]
    output = state_dir.parent / f"{state_dir.name}.out"
    with output.open("wb") as sink:
        launcher = subprocess.Popen(
            [*DEVSTACK, "--state-dir", str(state_dir), "run", "--only", "pricing", *ports, *flags],
            stdout=sink, stderr=subprocess.STDOUT, preexec_fn=die_with_the_tests,
        )  # fmt: skip
    try:
        give_up = time.monotonic() + 100
        while b"Lastmile is running." not in output.read_bytes():
            assert launcher.poll() is None, output.read_text()[-3000:]
            assert time.monotonic() < give_up, output.read_text()[-3000:]
            time.sleep(0.2)
        yield launcher
    finally:
        if launcher.poll() is None:
            launcher.terminate()
            launcher.wait(timeout=60)
        subprocess.run([*DEVSTACK, "--state-dir", str(state_dir), "stop"], check=False, timeout=90)


def devstack(state_dir: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DEVSTACK, "--state-dir", str(state_dir), command],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip


def test_a_killed_service_is_started_again_and_status_shows_its_restart(
    scratch: Path,
) -> None:
    state = scratch / "state"
    with launched(state):
        before = component(state, "pricing")
        assert before.pid is not None

        os.kill(before.pid, signal.SIGKILL)
        after = eventually(back_up(state, "pricing", restarts=1), "pricing to come back")
        status = devstack(state, "status")

    assert_reaped(before.pid, before.pid_start_time)
    assert after.pid != before.pid
    assert status.returncode == 0, status.stdout
    [line] = [line for line in status.stdout.splitlines() if line.split()[:2] == ["pricing", "up"]]
    assert f"pid {after.pid} " in line
    assert "restarts 1 " in line
    assert "last exit: killed by SIGKILL" in status.stdout


def test_stop_after_the_launcher_was_killed_stops_postgres_and_everything_else(
    scratch: Path,
) -> None:
    state = scratch / "state"
    with launched(state) as launcher:
        started = RunRecord.read(state)
        assert started is not None
        launcher.kill()
        launcher.wait()
        assert all(is_alive(c.pid) for c in started.components if c.pid), "left running"

        stop = devstack(state, "stop")

        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert f"the launcher (pid {launcher.pid}) is gone" in stop.stdout
        for entry in started.components:
            assert entry.pid is not None
            assert not is_same_process(entry.pid, entry.pid_start_time), f"{entry.name} runs"
        assert list(processes_of_state_dir(state)) == []
        pgdata = state / "postgres" / "pgdata"
        assert list(postgres_processes(pgdata)) == []
        assert not (pgdata / LOCK_FILE).exists(), "pg_ctl stop shuts postgres down cleanly"
        assert RunRecord.read(state) is None


async def test_a_held_component_stays_down_until_its_hold_file_is_removed(
    supervisor: Supervisor, reports: list[str], scratch: Path
) -> None:
    server = LocalNats(scratch / "nats", free_port(), free_port())
    await supervisor.start("nats", server.url, server)
    hold = supervisor.hold_file("nats")
    assert hold is not None
    hold.parent.mkdir()
    hold.touch()
    assert server.pid is not None

    os.kill(server.pid, signal.SIGKILL)
    await until(lambda: any("nats is held down" in r for r in reports) or None, "the hold")
    held = component(scratch, "nats")
    hold.unlink()
    back = await until(back_up(scratch, "nats", restarts=1), "nats to come back")

    assert (held.state, held.pid, held.restarts) == ("restarting", None, 0)
    assert back.pid == server.pid
    assert not is_port_free(server.port), "it listens again"
