"""One real local mesh for every fuzz suite of the session, the accounts they call as,
and the tally of cases that the suites print at the end of the run.

CI runs a fixed, small budget (`FUZZ_EXAMPLES`, default 20 per operation); `make fuzz`
raises it and switches hypothesis to the `fuzz` profile, which draws new inputs per run."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningMesh, start_mesh, stop_mesh
from tests.e2e.rest import OPS_EMAIL, log_in, sign_up

OPS_PASSWORD = "dev-only-operator-password-change-me"
# The fuzzers log in thousands of times; the edge's strict log-in bucket would answer
# almost all of them with 429 before identity saw the input.
FUZZ_MESH_ENVIRONMENT = {"LASTMILE_EDGE_LOGINS_PER_MINUTE": "1000000"}


def fuzz_examples(default: int = 20) -> int:
    """Generated cases per operation (schemathesis) or per method and mutation (gRPC)."""
    return int(os.environ.get("FUZZ_EXAMPLES", str(default)))


@dataclass
class SuiteTally:
    """What one suite did: cases sent, failures found, invariants checked per case, how
    the cases ended, and one reproduction per distinct failure."""

    cases: int = 0
    failures: int = 0
    invariants: set[str] = field(default_factory=set)
    distinct: list[str] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)  # e.g. gRPC status -> count


@dataclass
class FuzzReport:
    """Every suite's tally, printed in the terminal summary and written as JSON."""

    suites: dict[str, SuiteTally] = field(default_factory=dict)

    def suite(self, name: str) -> SuiteTally:
        return self.suites.setdefault(name, SuiteTally())

    def lines(self) -> list[str]:
        return [
            f"{name}: {tally.cases} cases, {tally.failures} failures "
            f"({len(tally.distinct)} distinct), invariants: {', '.join(sorted(tally.invariants))}"
            for name, tally in sorted(self.suites.items())
        ]

    def as_json(self) -> str:
        return json.dumps(
            {
                name: {
                    "cases": tally.cases,
                    "failures": tally.failures,
                    "invariants": sorted(tally.invariants),
                    "outcomes": tally.outcomes,
                    "distinct_failures": tally.distinct,
                }
                for name, tally in self.suites.items()
            },
            indent=2,
        )


_REPORT = FuzzReport()


@pytest.fixture(scope="session")
def fuzz_report() -> FuzzReport:
    return _REPORT


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _REPORT.suites:
        return
    terminalreporter.section("fuzz figures")
    for line in _REPORT.lines():
        terminalreporter.write_line(line)
    path = Path(terminalreporter.config.rootpath) / ".state" / "fuzz-report.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(_REPORT.as_json())
    terminalreporter.write_line(f"written to {path}")


@pytest.fixture(scope="package")
def fuzz_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMesh]:
    running = start_mesh("direct", tmp_path_factory.mktemp("fuzz-mesh"), FUZZ_MESH_ENVIRONMENT)
    try:
        yield running
    finally:
        stop_mesh(running)


@dataclass(frozen=True)
class Tokens:
    """Access tokens of real accounts, issued by identity through the edge."""

    customer: str
    courier: str
    ops: str


@pytest.fixture(scope="package")
def tokens(fuzz_mesh: RunningMesh) -> Tokens:
    ops, _ = log_in(fuzz_mesh.base, OPS_EMAIL, OPS_PASSWORD)
    return Tokens(
        customer=sign_up(fuzz_mesh.base, "fuzz-customer@example.com", "ROLE_CUSTOMER"),
        courier=sign_up(fuzz_mesh.base, "fuzz-courier@example.com", "ROLE_COURIER"),
        ops=ops,
    )


def crashed_components(mesh: RunningMesh) -> list[str]:
    """Every component of the mesh whose process has exited (or is an unreaped zombie),
    and the launcher itself if it is gone."""
    crashed = [] if mesh.process.poll() is None else ["launcher"]
    for component in mesh.status()["components"]:
        stat = Path(f"/proc/{component['pid']}/stat")
        # The state is the field after the parenthesised command name; Z is a zombie.
        if not stat.exists() or stat.read_text().rpartition(")")[2].split()[0] == "Z":
            crashed.append(component["name"])
    return crashed
