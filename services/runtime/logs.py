"""Structured JSON logs: one object per line, carrying service, request id and trace id.

Lines are encoded with orjson, and the access log (one line per call) skips the
logging module's per-record bookkeeping (`access_record`): with the stdlib encoder and
`Logger.log`, the line cost more than the handler it described.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

import orjson
from opentelemetry import trace

from services.runtime import context

# Attributes every LogRecord has; anything else passed through `extra=` is a field.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}
# Datetimes and dataclasses go through `default=str`, as they did with the stdlib encoder,
# so that a field's value reads the same whichever encoder wrote it.
_ORJSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)
_LEVEL_NAMES = {
    level: logging.getLevelName(level).lower()
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
}


class JsonFormatter(logging.Formatter):
    """Formats records as JSON with the per-call context from contextvars."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service
        # "2026-12-04T18:00:01" for the second last formatted: a line costs no datetime.
        self._second = -1
        self._second_text = ""

    def _time(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{int(record.msecs):03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record),
            "level": _LEVEL_NAMES.get(record.levelno) or record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = context.request_id.get()
        if request_id:
            entry["request_id"] = request_id
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(entry, default=str, option=_ORJSON_OPTIONS).decode()
        except orjson.JSONEncodeError:
            # What orjson refuses (an int beyond 64 bits, say) the stdlib still writes.
            return json.dumps(entry, default=str)


def access_record(
    logger: logging.Logger, level: int, message: str, fields: Mapping[str, Any]
) -> logging.LogRecord:
    """A record for `logger` without the caller lookup (`Logger.log` walks the stack to
    find the file and line, which no JSON line shows); `fields` are its extra fields."""
    return logger.makeRecord(logger.name, level, "", 0, message, (), None, extra=fields)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every logger's records to stderr as JSON lines; idempotent."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The JSON line shows no thread or process, so records need not look them up
    # (the logging HOWTO's "Optimization").
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
