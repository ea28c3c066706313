"""The edge's access log (one JSON object per request, in the edge's log file): what the
clients were answered while a fault lasted, whatever they did with it afterwards."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from tests.e2e.conftest import RunningMesh


class EdgeAnswers:
    """The requests the edge logs from the moment this is made."""

    def __init__(self, mesh: RunningMesh) -> None:
        self._log = mesh.state_dir / "logs" / "edge.log"
        self._start = self._log.stat().st_size

    def statuses(self) -> Counter[str]:
        """HTTP status -> requests answered with it so far."""
        return Counter(str(entry.get("status")) for entry in _entries(self._log, self._start))

    def answered(self, method: str, path: str, status: int) -> int:
        """How many `method path` requests got `status` so far."""
        return sum(
            1
            for entry in _entries(self._log, self._start)
            if (entry.get("method"), entry.get("path"), entry.get("status"))
            == (method, path, status)
        )


def _entries(log: Path, offset: int) -> list[dict[str, Any]]:
    with log.open("rb") as lines:
        lines.seek(offset)
        entries = []
        for line in lines:
            if line.startswith(b"{"):
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # the line the edge is writing right now
        return entries
