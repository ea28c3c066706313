"""JSON log lines: the fields every line has, the access log's own, and values that read
as they did with the stdlib encoder."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from datetime import UTC, datetime

import grpc
import pytest

from services.runtime import context
from services.runtime.logs import JsonFormatter, access_record
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
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter("echo"))
    access = logging.getLogger("lastmile.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        host, _ = echo_host()
        async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
            await raw_unary(channel, UNARY)(b"x", metadata=(("x-request-id", "r-1"),))
    finally:
        access.removeHandler(handler)
    [line] = lines.getvalue().splitlines()
    entry = json.loads(line)
    assert sorted(entry) == sorted(
        ["time", "level", "service", "logger", "message", "request_id", "trace_id", "span_id",
         "rpc", "code", "duration_ms", "peer"]
    )  # fmt: skip
    assert ISO_MILLISECONDS.fullmatch(entry["time"])
    assert (entry["level"], entry["logger"]) == ("info", "lastmile.access")
    assert entry["service"] == "echo"
    assert (entry["message"], entry["rpc"], entry["code"]) == (f"{UNARY} OK", UNARY, "OK")
    assert entry["request_id"] == "r-1"
    assert re.fullmatch("[0-9a-f]{32}", entry["trace_id"])
    assert re.fullmatch("[0-9a-f]{16}", entry["span_id"])
    assert isinstance(entry["duration_ms"], float)
    assert entry["peer"].startswith("ipv4:127.0.0.1:")


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


def test_an_access_record_is_a_record_of_its_logger_with_its_fields() -> None:
    logger = logging.getLogger("lastmile.access")
    made = access_record(logger, logging.INFO, "/svc/Method OK", {"rpc": "/svc/Method"})
    entry = formatted(made)
    assert (entry["logger"], entry["level"], entry["message"], entry["rpc"]) == (
        "lastmile.access",
        "info",
        "/svc/Method OK",
        "/svc/Method",
    )


@pytest.mark.parametrize("reserved", ["message", "asctime"])
def test_an_access_record_refuses_a_field_that_would_overwrite_a_records_own(
    reserved: str,
) -> None:
    with pytest.raises(KeyError):
        access_record(logging.getLogger("lastmile.access"), logging.INFO, "m", {reserved: "x"})
