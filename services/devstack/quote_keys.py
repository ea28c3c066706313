"""The local mesh's quote signing key: one Ed25519 key made on first start under the state
dir and given to every pricing process, as a Secret is in Kubernetes, so that a restart (or
a second replica) honours the quotes issued before it."""

from __future__ import annotations

import os
from pathlib import Path

from services.pricing.adapters.quote_key_ring import generate_pem

KEYS_VARIABLE = "LASTMILE_PRICING_QUOTE_KEYS_FILE"


def ensure_quote_keys(state_dir: Path) -> Path:
    """The key file under `state_dir`, created (0600) if it is missing."""
    path = state_dir / "pricing" / "quote-keys.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(generate_pem())
    return path
