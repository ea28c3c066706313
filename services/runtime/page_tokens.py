"""Page tokens: an opaque, tamper-evident keyset cursor (create time, id), bound to the
caller and the filter it was issued for, so that it cannot be replayed elsewhere.

Any list ordered by (create time, UUID) pages with it: orders' deliveries, dispatch's queue."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.runtime.errors import FieldViolation, InvalidArgument

_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# version, create time in µs since the epoch, item id, digest of the scope.
_PAYLOAD = struct.Struct(">Bq16s8s")
_MAC_BYTES = 16


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in the newest-first order: the next page starts strictly after it."""

    created_at: datetime
    item_id: str  # a UUID


def page_scope(account_id: str, role: str, statuses: Iterable[str]) -> str:
    """What a token is bound to: who listed, and with which status filter."""
    return "|".join((account_id, role, ",".join(sorted(statuses))))


class PageTokenInvalid(InvalidArgument):
    """A page token that was not issued by this service, was altered, or belongs to a
    different caller or filter."""

    def __init__(self, why: str) -> None:
        super().__init__([FieldViolation("page_token", why)])


class PageTokens:
    """Issues and reads page tokens, signed with a key only orders holds."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the page token key must be at least 32 bytes")
        self._secret = secret

    def issue(self, cursor: Cursor, scope: str) -> str:
        micros = (cursor.created_at - _EPOCH) // timedelta(microseconds=1)
        payload = _PAYLOAD.pack(_VERSION, micros, uuid.UUID(cursor.item_id).bytes, _digest(scope))
        return base64.urlsafe_b64encode(payload + self._mac(payload)).rstrip(b"=").decode()

    def read(self, token: str, scope: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise PageTokenInvalid("is malformed; pass a next_page_token unchanged") from None
        payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
        if len(raw) != _PAYLOAD.size + _MAC_BYTES or not hmac.compare_digest(
            mac, self._mac(payload)
        ):
            raise PageTokenInvalid("is malformed or altered; pass a next_page_token unchanged")
        version, micros, id_bytes, scope_digest = _PAYLOAD.unpack(payload)
        if version != _VERSION:
            raise PageTokenInvalid("comes from an older version; start again without a token")
        if not hmac.compare_digest(scope_digest, _digest(scope)):
            raise PageTokenInvalid(
                "was issued for a different caller or status filter; start again without a token"
            )
        created_at = _EPOCH + timedelta(microseconds=micros)
        return Cursor(created_at, str(uuid.UUID(bytes=id_bytes)))

    def _mac(self, payload: bytes) -> bytes:
        return hmac.digest(self._secret, payload, "sha256")[:_MAC_BYTES]


def _digest(scope: str) -> bytes:
    return hashlib.sha256(scope.encode()).digest()[:8]
