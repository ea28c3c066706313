"""The JWKS as JSON for the admin HTTP port, which reads it from another thread."""

from __future__ import annotations

import json
from collections.abc import Sequence

from services.identity.domain.signing_key import SigningKey


def jwks_json(keys: Sequence[SigningKey]) -> bytes:
    return json.dumps({"keys": [key.jwk() for key in keys]}, separators=(",", ":")).encode()


class JwksDocument:
    """Immutable bytes swapped whole on change, so a reader never sees a half-built set."""

    content_type = "application/json"

    def __init__(self) -> None:
        self._body = jwks_json([])

    def publish(self, keys: Sequence[SigningKey]) -> None:
        self._body = jwks_json(keys)

    def __call__(self) -> tuple[str, bytes]:
        return self.content_type, self._body
