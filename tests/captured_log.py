"""A process's JSON log lines captured in memory, written exactly as `configure_logging`
writes them in a service (the access log included), for tests that read the log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from services.runtime.logs import configure_logging, flush_logs, stop_logging


class CapturedLog:
    """The lines written so far, buffered ones included."""

    def __init__(self, stream: io.BytesIO) -> None:
        self._stream = stream

    def written(self) -> bytes:
        """What has reached the stream, without writing out the buffer first."""
        return self._stream.getvalue()

    def text(self) -> str:
        """Every line written so far, buffered ones included."""
        flush_logs()
        return self._stream.getvalue().decode()

    def entries(self) -> list[dict[str, Any]]:
        flush_logs()
        return [json.loads(line) for line in self._stream.getvalue().splitlines()]

    def access_entries(self) -> list[dict[str, Any]]:
        return [entry for entry in self.entries() if entry["logger"] == "lastmile.access"]


@contextmanager
def captured_log(service: str, level: str = "INFO") -> Iterator[CapturedLog]:
    """Configure the process's logging into memory, and put the test runner's back after."""
    root = logging.getLogger()
    handlers, root_level = root.handlers[:], root.level
    stream = io.BytesIO()
    # Only an explicit flush writes the buffered lines (none happens behind the test's back).
    configure_logging(service, level, stream=stream, flush_seconds=3600)
    try:
        yield CapturedLog(stream)
    finally:
        flush_logs()
        stop_logging()
        root.handlers[:] = handlers
        root.setLevel(root_level)
