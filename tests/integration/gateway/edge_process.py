"""The real Envoy binary running a rendered config (the edge's, a sidecar's), and a small
HTTP/1.1 client for it."""

from __future__ import annotations

import http.client
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.edge.render import envoy_command


@dataclass(frozen=True)
class Reply:
    """An HTTP response, fully read."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class EnvoyProcess:
    """Envoy started by the test on its own pid; only that pid is ever signalled. `command`
    defaults to the edge's command line for `config`."""

    def __init__(
        self,
        config: Path,
        port: int,
        admin_port: int,
        log: Path,
        *,
        command: list[str] | None = None,
    ) -> None:
        self.config = config
        self.port = port
        self.admin_port = admin_port
        self.log = log
        self.command = command or envoy_command(config)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        with self.log.open("ab") as sink:
            self._process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink
            )
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            if self._process.poll() is not None:
                raise AssertionError(f"envoy exited: {self.log.read_text()[-3000:]}")
            try:
                if request("127.0.0.1", self.admin_port, "GET", "/ready").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"envoy was not ready in {timeout}s: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One HTTP/1.1 request; a `body` that is not bytes is sent as JSON."""
        return request("127.0.0.1", self.port, method, path, body, headers)


def request(
    host: str,
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    sent_headers = dict(headers or {})
    payload: bytes | None = None
    if body is not None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent_headers.setdefault("content-type", "application/json")
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request(method, path, body=payload, headers=sent_headers)
        response = connection.getresponse()
        received = {key.lower(): value for key, value in response.getheaders()}
        return Reply(response.status, received, response.read())
    finally:
        connection.close()
