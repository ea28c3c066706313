"""Page tokens over generated cursors, scopes and tamperings: what was issued reads back
exactly, and anything else is refused with PageTokenInvalid, never another exception."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.runtime.page_tokens import Cursor, PageTokenInvalid, PageTokens

TOKENS = PageTokens(b"k" * 32)
instants = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
cursors = st.builds(Cursor, instants, st.uuids().map(str))
scopes = st.text(max_size=80)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@given(cursors, scopes)
def test_an_issued_token_reads_back_as_its_cursor_in_its_scope(cursor: Cursor, scope: str) -> None:
    read = TOKENS.read(TOKENS.issue(cursor, scope), scope)
    # Microseconds are the token's resolution, as they are PostgreSQL's.
    assert read.item_id == str(uuid.UUID(cursor.item_id))
    assert abs(read.created_at - cursor.created_at) < timedelta(microseconds=1)


@given(cursors, scopes, st.data())
def test_a_token_with_any_character_changed_is_refused(
    cursor: Cursor, scope: str, data: st.DataObject
) -> None:
    token = TOKENS.issue(cursor, scope)
    index = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from(ALPHABET).filter(lambda c: c != token[index]))
    tampered = token[:index] + replacement + token[index + 1 :]
    # The last character carries padding bits base64 ignores: the same bytes read the same.
    if decoded(tampered) == decoded(token):
        return
    with pytest.raises(PageTokenInvalid):
        TOKENS.read(tampered, scope)


@given(cursors, scopes, scopes)
def test_a_token_is_refused_in_any_other_scope(cursor: Cursor, issued: str, other: str) -> None:
    if issued == other:
        return
    with pytest.raises(PageTokenInvalid) as refused:
        TOKENS.read(TOKENS.issue(cursor, issued), other)
    assert [v.field for v in refused.value.violations] == ["page_token"]


@given(st.text(max_size=120), scopes)
def test_arbitrary_text_is_refused_as_a_page_token_and_nothing_else_escapes(
    text: str, scope: str
) -> None:
    with pytest.raises(PageTokenInvalid) as refused:
        TOKENS.read(text, scope)
    assert refused.value.violations[0].description


def decoded(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
