"""A bad service regions file stops each service that reads it at start-up, before it
serves, with a message naming the setting, the file and the problem."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

OVERLAPPING = {
    "resolution": 6,
    "regions": [
        {"name": "east", "polygon": [[52, 13], [53, 13], [53, 14], [52, 14]]},
        {"name": "west", "polygon": [[52, 12.5], [53, 12.5], [53, 13.5], [52, 13.5]]},
    ],
}


@pytest.mark.parametrize(
    ("service", "document", "problem"),
    [
        ("orders", OVERLAPPING, "regions 'east' and 'west' overlap"),
        ("pricing", OVERLAPPING, "regions 'east' and 'west' overlap"),
        ("orders", {"resolution": 6, "regions": []}, "'regions' is empty"),
        ("pricing", "[1, 2", "is not JSON"),
    ],
)
def test_a_service_with_a_bad_regions_file_exits_naming_the_file_and_the_problem(
    tmp_path: Path, service: str, document: object, problem: str
) -> None:
    regions_file = tmp_path / "regions.json"
    regions_file.write_text(document if isinstance(document, str) else json.dumps(document))
    variable = f"LASTMILE_{service.upper()}_REGIONS_FILE"
    exited = subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        env={
            **os.environ,
            variable: str(regions_file),
            f"LASTMILE_{service.upper()}_GRPC_PORT": "0",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert exited.returncode != 0
    assert variable in exited.stderr
    assert f"regions file {regions_file}: {problem}" in exited.stderr
