"""Page tokens: they round-trip a cursor, and refuse tampering, garbage and reuse by
another caller or with another filter."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest

from services.runtime.page_tokens import (
    Cursor,
    PageTokenInvalid,
    PageTokens,
    page_scope,
)

TOKENS = PageTokens(b"k" * 32)
SCOPE = page_scope("merchant-1", "merchant", ["PENDING"])
CURSOR = Cursor(datetime(2026, 11, 29, 12, 0, 0, 123456, tzinfo=UTC), str(uuid.uuid4()))


def bytes_of(token: str) -> bytearray:
    return bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def token_of(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_token_reads_back_as_the_cursor_it_was_issued_for() -> None:
    token = TOKENS.issue(CURSOR, SCOPE)
    assert TOKENS.read(token, SCOPE) == CURSOR
    assert token.isascii()
    assert "=" not in token


def test_the_order_of_statuses_in_the_filter_does_not_matter() -> None:
    token = TOKENS.issue(CURSOR, page_scope("m", "merchant", ["PENDING", "ASSIGNED"]))
    assert TOKENS.read(token, page_scope("m", "merchant", ["ASSIGNED", "PENDING"])) == CURSOR


@pytest.mark.parametrize("position", [0, 1, 5, 20, 30, 40, 48])
def test_flipping_any_bit_of_a_token_makes_it_invalid(position: int) -> None:
    raw = bytes_of(TOKENS.issue(CURSOR, SCOPE))
    raw[position] ^= 0x04
    with pytest.raises(PageTokenInvalid) as invalid:
        TOKENS.read(token_of(bytes(raw)), SCOPE)
    assert [v.field for v in invalid.value.violations] == ["page_token"]


@pytest.mark.parametrize("garbage", ["x", "%%%", "ÿ", "AAAA", token_of(b"\x01" * 49)])
def test_garbage_is_an_invalid_token_not_a_crash(garbage: str) -> None:
    with pytest.raises(PageTokenInvalid):
        TOKENS.read(garbage, SCOPE)


@pytest.mark.parametrize(
    "other_scope",
    [
        page_scope("merchant-2", "merchant", ["PENDING"]),
        page_scope("merchant-1", "ops", ["PENDING"]),
        page_scope("merchant-1", "merchant", []),
        page_scope("merchant-1", "merchant", ["PENDING", "CANCELLED"]),
    ],
    ids=["other caller", "other role", "no filter", "wider filter"],
)
def test_a_token_is_refused_for_another_caller_or_filter(other_scope: str) -> None:
    with pytest.raises(PageTokenInvalid) as invalid:
        TOKENS.read(TOKENS.issue(CURSOR, SCOPE), other_scope)
    assert "different caller or status filter" in invalid.value.violations[0].description


def test_a_token_signed_with_another_key_is_refused() -> None:
    with pytest.raises(PageTokenInvalid):
        PageTokens(b"z" * 32).read(TOKENS.issue(CURSOR, SCOPE), SCOPE)


def test_a_short_key_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        PageTokens(b"short")
