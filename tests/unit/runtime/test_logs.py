"""JSON log lines: the fields every line has, the access log's own, values that read as
they did with the stdlib encoder, and the buffer the access log is written through."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import time
from datetime import UTC, datetime

import grpc

from services.runtime import context
from services.runtime.logs import JsonFormatter, JsonLines
from tests.captured_log import captured_log
from tests.servers import raw_unary, serving
from tests.unit.runtime.echo import UNARY, echo_host

ISO_MILLISECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00")


def formatted(record: logging.LogRecord) -> dict[str, object]:
    entry: dict[str, object] = json.loads(JsonFormatter("echo").format(record))
    return entry


def record(message: str = "hello", **extra: object) -> logging.LogRecord:
    return logging.getLogger("lastmile.test").makeRecord(
        "lastmile.test", logging.WARNING, "here.py", 1, message, (), None, extra=extra
    )


async def test_an_access_log_line_has_exactly_the_fields_it_always_had() -> None:
    with captured_log("echo") as log:
        host, _ = echo_host()
        async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
            await raw_unary(channel, UNARY)(b"x", metadata=(("x-request-id", "r-1"),))
        [entry] = log.access_entries()
    assert list(entry) == [
        "time", "level", "service", "logger", "message", "request_id", "trace_id", "span_id",
        "rpc", "code", "duration_ms", "peer",
    ]  # fmt: skip
    assert ISO_MILLISECONDS.fullmatch(entry["time"])
    assert (entry["level"], entry["logger"]) == ("info", "lastmile.access")
    assert entry["service"] == "echo"
    assert (entry["message"], entry["rpc"], entry["code"]) == (f"{UNARY} OK", UNARY, "OK")
    assert entry["request_id"] == "r-1"
    assert re.fullmatch("[0-9a-f]{32}", entry["trace_id"])
    assert re.fullmatch("[0-9a-f]{16}", entry["span_id"])
    assert isinstance(entry["duration_ms"], float)
    assert entry["peer"].startswith("ipv4:127.0.0.1:")


async def test_a_host_that_stops_writes_the_access_lines_still_in_the_buffer() -> None:
    with captured_log("echo") as log:
        host, _ = echo_host()
        await host.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
                for number in range(3):
                    await raw_unary(channel, UNARY)(
                        b"x", metadata=(("x-request-id", f"r-{number}"),)
                    )
            buffered = log.written()
        finally:
            await host.stop()
        after_stop = log.written()
    assert b"lastmile.access" not in buffered
    logged = [json.loads(line) for line in after_stop.splitlines()]
    access = [entry["request_id"] for entry in logged if entry["logger"] == "lastmile.access"]
    assert access == ["r-0", "r-1", "r-2"]


async def test_the_access_log_follows_its_loggers_level() -> None:
    access = logging.getLogger("lastmile.access")
    with captured_log("echo") as log:
        access.setLevel(logging.WARNING)
        try:
            host, _ = echo_host()
            async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
                await raw_unary(channel, UNARY)(b"x")
        finally:
            access.setLevel(logging.NOTSET)
        assert log.access_entries() == []
        assert [entry["message"] for entry in log.entries()][-1] == "stopped"


def test_buffered_lines_wait_for_a_line_written_at_once_and_leave_before_it() -> None:
    stream = io.BytesIO()
    lines = JsonLines(stream, flush_seconds=3600)
    try:
        lines.write(b"1\n")
        lines.write(b"2\n")
        assert stream.getvalue() == b""
        lines.write_now(b"3\n")
        assert stream.getvalue() == b"1\n2\n3\n"
    finally:
        lines.close()


def test_a_full_buffer_is_written_without_waiting() -> None:
    stream = io.BytesIO()
    lines = JsonLines(stream, flush_seconds=3600, buffer_bytes=8)
    try:
        lines.write(b"one\n")
        assert stream.getvalue() == b""
        lines.write(b"two\n")
        assert stream.getvalue() == b"one\ntwo\n"
    finally:
        lines.close()


def test_buffered_lines_are_written_in_the_background_without_a_flush() -> None:
    stream = io.BytesIO()
    lines = JsonLines(stream, flush_seconds=0.01)
    try:
        lines.write(b"late\n")
        for _ in range(500):
            if stream.getvalue():
                break
            time.sleep(0.01)
        assert stream.getvalue() == b"late\n"
    finally:
        lines.close()


def test_closing_writes_what_is_left() -> None:
    stream = io.BytesIO()
    lines = JsonLines(stream, flush_seconds=3600)
    lines.write(b"last\n")
    lines.close()
    assert stream.getvalue() == b"last\n"


def test_the_time_is_the_records_utc_time_to_the_millisecond() -> None:
    entry = record()
    entry.created, entry.msecs = 1_764_824_401.0429, 42.0
    assert formatted(entry)["time"] == datetime.fromtimestamp(entry.created, UTC).isoformat(
        timespec="milliseconds"
    )


def test_a_line_carries_the_request_id_extra_fields_and_the_exception() -> None:
    token = context.request_id.set("req-7")
    try:
        try:
            raise ValueError("bad")
        except ValueError:
            failed = record("failed", courier_id="c-1", _private="hidden")
            failed.exc_info = sys.exc_info()
            entry = formatted(failed)
    finally:
        context.request_id.reset(token)
    assert (entry["level"], entry["message"], entry["request_id"]) == ("warning", "failed", "req-7")
    assert entry["courier_id"] == "c-1"
    assert "_private" not in entry
    assert "ValueError: bad" in str(entry["exception"])


def test_values_read_as_the_stdlib_encoder_wrote_them() -> None:
    when = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
    entry = formatted(record(at=when, ids={1, 2} - {1}, huge=2**70, counts={3: "three"}))
    assert entry["at"] == str(when)
    assert entry["ids"] == "{2}"
    assert entry["huge"] == 2**70
    assert entry["counts"] == {"3": "three"}
