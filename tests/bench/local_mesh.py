"""The whole mesh for the REST benchmarks: the launcher `make run` uses, on free ports in a
scratch directory, always stopped; plus the REST calls that prepare a load through the edge."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from services.devstack.components import Ports
from services.devstack.launcher import LocalMesh
from services.devstack.ports import free_port

CALL_TIMEOUT_SECONDS = 10.0
_METRIC_LINE = re.compile(r"^(\w+)(?:\{[^}]*\})? (\S+)$")


class MeshCallFailed(RuntimeError):
    """A preparatory REST call through the edge did not answer as a customer expects."""


@dataclass(frozen=True)
class Edge:
    """The Envoy edge of a running mesh, as a REST client sees it."""

    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(self, path: str, body: Any, token: str | None = None) -> Any:
        """POST JSON; return the decoded reply, or raise MeshCallFailed unless it is a 200."""
        request = urllib.request.Request(
            self.base_url + path,
            method="POST",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )
        if token:
            request.add_header("authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=CALL_TIMEOUT_SECONDS) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise MeshCallFailed(f"POST {path}: HTTP {error.code} {error.read()!r}") from None

    def register_customer(self) -> str:
        """Sign up a fresh customer and log in; return its access token."""
        email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
        password = "a long enough benchmark password"
        account = {"email": email, "displayName": "Bench Customer", "role": "ROLE_CUSTOMER"}
        self.post("/v1/accounts", {"account": account, "password": password})
        session = self.post("/v1/sessions", {"email": email, "password": password})
        token: str = session["accessToken"]
        return token


def free_ports() -> Ports:
    return Ports(**{port.name: free_port() for port in fields(Ports)})


@asynccontextmanager
async def running_mesh(state_dir: Path) -> AsyncIterator[LocalMesh]:
    """PostgreSQL, NATS, every service and the edge, health-gated; stopped on the way out
    even when starting fails half-way (stop only ends what this mesh started)."""
    mesh = LocalMesh(state_dir, free_ports())
    try:
        await mesh.start()
        yield mesh
    finally:
        await mesh.stop()


def metrics_text(port: int) -> str:
    """One scrape of a service's admin /metrics, as Prometheus text."""
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=CALL_TIMEOUT_SECONDS) as response:
        text: str = response.read().decode()
    return text


def scrape_metrics(port: int) -> dict[str, float]:
    """One admin /metrics scrape: sample name → value (label sets of a name are summed)."""
    samples: dict[str, float] = {}
    for line in metrics_text(port).splitlines():
        match = _METRIC_LINE.match(line)
        if match:
            name, value = match.groups()
            samples[name] = samples.get(name, 0.0) + float(value)
    return samples


def describe_mesh(mesh: LocalMesh) -> str:
    """The components with their pids, and the edge's worker threads (its --concurrency)."""
    parts = []
    for component in mesh.components:
        label = f"{component.name} {component.pid}"
        if component.name == "edge" and component.pid is not None:
            label += f" (envoy --concurrency {_flag(component.pid, '--concurrency')})"
        parts.append(label)
    return ", ".join(parts)


def _flag(pid: int, flag: str) -> str:
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return "?"
    return arguments[arguments.index(flag) + 1] if flag in arguments[:-1] else "default"
