"""The matching core stays pure: dispatch's domain imports no I/O, no event loop and no
clock, so the board can only act through the effects it returns."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).parents[3] / "services" / "dispatch" / "domain"
FORBIDDEN = ("asyncio", "asyncpg", "grpc", "nats", "lastmile", "opentelemetry", "time",
             "services.runtime", "services.dispatch.service_layer",
             "services.dispatch.adapters", "services.dispatch.entrypoints")  # fmt: skip


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda path: path.name)
def test_a_domain_module_imports_no_io_loop_or_clock(path: Path) -> None:
    bad = {name for name in imported(path) for prefix in FORBIDDEN
           if name == prefix or name.startswith(f"{prefix}.")}  # fmt: skip
    assert bad == set()


def test_the_board_is_among_the_checked_modules() -> None:
    assert (DOMAIN / "board.py").exists()
    assert "services.dispatch.domain.effects" in imported(DOMAIN / "board.py")
