"""One local mesh for every fault test, as `make run` starts it (with its supervisor), on
free ports in a scratch directory; and the figures each fault test counts, printed at the
end of the run so that a green run still shows them.

Plain `pytest` (CI) runs only the faults marked `chaos(ci=True)`, the cheapest meaningful
ones; `make chaos` (LASTMILE_CHAOS=all) runs every fault."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.chaos.figures import FaultFigures
from tests.e2e.conftest import RunningMesh, start_mesh, stop_mesh

EVERY_FAULT = "LASTMILE_CHAOS"
# Fault tests sign up and log in many accounts; the edge's default bucket (20 a minute) is
# there for attackers, not for this.
CHAOS_ENVIRONMENT = {"LASTMILE_EDGE_LOGINS_PER_MINUTE": "6000"}

_FIGURES: list[FaultFigures] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(EVERY_FAULT) == "all":
        return
    chosen: list[pytest.Item] = []
    left_out: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker("chaos")
        in_ci = marker is None or bool(marker.kwargs.get("ci", False))
        (chosen if in_ci else left_out).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = chosen


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("fault figures (counted invariants)")
    for figures in _FIGURES:
        terminalreporter.line(figures.line())


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[FaultFigures]:
    """The test's counted invariants; printed with the test and in the run's summary."""
    counted = FaultFigures(request.node.name)
    yield counted
    _FIGURES.append(counted)
    print(counted.line())


@pytest.fixture(scope="package")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMesh]:
    running = start_mesh("direct", tmp_path_factory.mktemp("mesh-chaos"), CHAOS_ENVIRONMENT)
    try:
        yield running
    finally:
        stop_mesh(running)
