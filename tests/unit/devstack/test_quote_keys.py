"""The local mesh's quote key: made once under the state dir, private to its owner, and
kept across restarts so that quotes issued before one are still honoured after it."""

from __future__ import annotations

from pathlib import Path

from services.devstack.quote_keys import ensure_quote_keys
from services.pricing.adapters.quote_key_ring import QuoteKeyRing


def test_the_first_start_makes_one_key_that_only_its_owner_can_read(tmp_path: Path) -> None:
    path = ensure_quote_keys(tmp_path)
    assert path == tmp_path / "pricing" / "quote-keys.pem"
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(QuoteKeyRing.from_file(path).public_keys()) == 1


def test_a_restart_keeps_the_key(tmp_path: Path) -> None:
    first = QuoteKeyRing.from_file(ensure_quote_keys(tmp_path)).active_kid
    assert QuoteKeyRing.from_file(ensure_quote_keys(tmp_path)).active_kid == first
