"""Structured log fields never collide with LogRecord's own attributes: logging raises
KeyError for such a call, which would kill the task that logs instead of logging."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[3] / "services"
RESERVED = set(vars(logging.LogRecord("n", 0, "p", 0, "m", None, None))) | {"message", "asctime"}


def clashing_extras(path: Path) -> list[str]:
    clashes = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                clashes += [
                    f"{path}:{node.lineno} {key.value!r}"
                    for key in keyword.value.keys
                    if isinstance(key, ast.Constant) and key.value in RESERVED
                ]
    return clashes


def test_no_log_call_in_the_services_passes_a_reserved_field_as_extra() -> None:
    files = sorted(SERVICES.rglob("*.py"))
    assert len(files) > 100
    assert [clash for path in files for clash in clashing_extras(path)] == []


def test_the_check_finds_a_clash(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('log.info("sent", extra={"courier_id": 1, "message": "Offer"})\n')
    assert clashing_extras(sample) == [f"{sample}:1 'message'"]
