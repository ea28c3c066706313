"""Structured JSON logs: one object per line, carrying service, request id and trace id.

Every line goes to the process's `JsonLines` (stderr unless told). Records of the logging
module are written at once, as they always were: they are few, and the last of them may
explain a crash. The access log, one line per call, is built here without the logging
module (`AccessLog`) and written block-buffered: a line is held at most `flush_seconds`,
and the buffer is written out when it fills, on graceful shutdown (`ServiceHost.stop`) and
at exit. Encoding a record through the logging module and writing it with a system call of
its own cost more than the call the line described.
"""

from __future__ import annotations

import atexit
import json
import logging
import sys
import threading
import time
from typing import Any, BinaryIO

import orjson
from opentelemetry import trace

from services.runtime import context

ACCESS_LOGGER = "lastmile.access"
# A line waits at most this long in the buffer (LASTMILE_<SERVICE>_LOG_FLUSH_SECONDS).
FLUSH_SECONDS = 0.5
# Written out at once when this much is buffered: about 150 access lines a system call.
BUFFER_BYTES = 64 * 1024

# Attributes every LogRecord has; anything else passed through `extra=` is a field.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}
# Datetimes and dataclasses go through `default=str`, as they did with the stdlib encoder,
# so that a field's value reads the same whichever encoder wrote it.
_ORJSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_APPEND_NEWLINE
)
_LEVEL_NAMES = {
    level: logging.getLevelName(level).lower()
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
}


class UtcTimes:
    """ "2026-12-04T18:00:01.042+00:00" for a time.time() value; the date and time of the
    second last seen are reused, so that a line costs no datetime."""

    def __init__(self) -> None:
        self._second = -1
        self._second_text = ""

    def text(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{int((created - second) * 1000):03d}+00:00"


def _add_trace_ids(entry: dict[str, Any]) -> None:
    request_id = context.request_id.get()
    if request_id:
        entry["request_id"] = request_id
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        entry["trace_id"] = format(span_context.trace_id, "032x")
        entry["span_id"] = format(span_context.span_id, "016x")


class JsonFormatter(logging.Formatter):
    """Formats records as JSON with the per-call context from contextvars."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service
        self._times = UtcTimes()

    def format(self, record: logging.LogRecord) -> str:
        return self.encode(record)[:-1].decode()

    def encode(self, record: logging.LogRecord) -> bytes:
        """The record's line as UTF-8, newline included."""
        entry: dict[str, Any] = {
            "time": self._times.text(record.created),
            "level": _LEVEL_NAMES.get(record.levelno) or record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        _add_trace_ids(entry)
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(entry, default=str, option=_ORJSON_OPTIONS)
        except orjson.JSONEncodeError:
            # What orjson refuses (an int beyond 64 bits, say) the stdlib still writes.
            return (json.dumps(entry, default=str) + "\n").encode()


class JsonLines:
    """A process's log stream: whole lines, buffered and written together by one system
    call. A background thread writes what is buffered every `flush_seconds`."""

    def __init__(
        self,
        stream: BinaryIO,
        *,
        flush_seconds: float = FLUSH_SECONDS,
        buffer_bytes: int = BUFFER_BYTES,
    ) -> None:
        self._stream = stream
        self._buffer_bytes = buffer_bytes
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        # Appending takes only `_buffering`; writing out holds `_writing` too, so that
        # lines leave in order while the next ones are buffered meanwhile.
        self._buffering = threading.Lock()
        self._writing = threading.Lock()
        self._closed = threading.Event()
        self._flusher = threading.Thread(
            target=self._flush_every, args=(flush_seconds,), name="log-flush", daemon=True
        )
        self._flusher.start()

    def write(self, line: bytes) -> None:
        """Buffer `line` (newline included); it is written within `flush_seconds`."""
        with self._buffering:
            self._pending.append(line)
            self._pending_bytes += len(line)
            full = self._pending_bytes >= self._buffer_bytes
        if full:
            self.flush()

    def write_now(self, line: bytes) -> None:
        """Write `line` at once, after every line buffered before it."""
        with self._buffering:
            self._pending.append(line)
        self.flush()

    def flush(self) -> None:
        """Write out every buffered line."""
        with self._writing:
            with self._buffering:
                if not self._pending:
                    return
                data = b"".join(self._pending)
                self._pending.clear()
                self._pending_bytes = 0
            try:
                self._stream.write(data)
                self._stream.flush()
            except (OSError, ValueError):
                # The stream is gone (a closed pipe, a closed file at exit): there is
                # nowhere left to say so.
                pass

    def close(self) -> None:
        """Stop the background writes and write out what is left; idempotent."""
        self._closed.set()
        if self._flusher.is_alive() and self._flusher is not threading.current_thread():
            self._flusher.join()
        self.flush()

    def _flush_every(self, seconds: float) -> None:
        while not self._closed.wait(seconds):
            self.flush()


class JsonLinesHandler(logging.Handler):
    """The logging module's records, as JSON lines written at once to a `JsonLines`."""

    def __init__(self, service: str, lines: JsonLines) -> None:
        super().__init__()
        self.lines = lines
        self._formatter = JsonFormatter(service)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self._formatter.encode(record)
        except Exception:
            self.handleError(record)
            return
        self.lines.write_now(line)

    def flush(self) -> None:
        self.lines.flush()

    def close(self) -> None:
        self.lines.close()
        super().close()


class AccessLog:
    """The access log: one JSON line per finished call, with the fields a record of the
    `lastmile.access` logger would have, built without the logging module and buffered.
    The logger's level still decides what is written."""

    def __init__(self) -> None:
        self._logger = logging.getLogger(ACCESS_LOGGER)
        self._times = UtcTimes()

    def is_enabled_for(self, level: int) -> bool:
        return _output is not None and self._logger.isEnabledFor(level)

    def write(self, level: int, rpc: str, code: str, duration_ms: float, peer: str) -> None:
        output = _output
        if output is None:
            return
        entry: dict[str, Any] = {
            "time": self._times.text(time.time()),
            "level": _LEVEL_NAMES[level],
            "service": output.service,
            "logger": ACCESS_LOGGER,
            "message": f"{rpc} {code}",
        }
        _add_trace_ids(entry)
        entry["rpc"] = rpc
        entry["code"] = code
        entry["duration_ms"] = duration_ms
        entry["peer"] = peer
        output.lines.write(orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE))


class _Output:
    """Where this process's lines go, once `configure_logging` said."""

    def __init__(self, service: str, lines: JsonLines) -> None:
        self.service = service
        self.lines = lines


_output: _Output | None = None


def configure_logging(
    service: str,
    level: str = "INFO",
    *,
    stream: BinaryIO | None = None,
    flush_seconds: float = FLUSH_SECONDS,
) -> JsonLines:
    """Send every logger's records and the access log to `stream` (stderr) as JSON lines;
    a second call replaces the first, whose buffered lines are written out."""
    global _output
    lines = JsonLines(sys.stderr.buffer if stream is None else stream, flush_seconds=flush_seconds)
    root = logging.getLogger()
    previous, root.handlers[:] = root.handlers[:], [JsonLinesHandler(service, lines)]
    for handler in previous:
        if isinstance(handler, JsonLinesHandler):
            handler.close()
    root.setLevel(level)
    # The JSON line shows no thread or process, so records need not look them up
    # (the logging HOWTO's "Optimization").
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    _output = _Output(service, lines)
    return lines


def flush_logs() -> None:
    """Write out the buffered lines (graceful shutdown calls it last)."""
    if _output is not None:
        _output.lines.flush()


def stop_logging() -> None:
    """Write out what is buffered and stop sending lines anywhere (tests, exit)."""
    global _output
    if _output is None:
        return
    output, _output = _output, None
    root = logging.getLogger()
    for handler in root.handlers[:]:
        if isinstance(handler, JsonLinesHandler) and handler.lines is output.lines:
            root.removeHandler(handler)
            handler.close()
    output.lines.close()


# logging.shutdown also flushes the handler at exit; this covers lines written after it.
atexit.register(flush_logs)
