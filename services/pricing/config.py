"""pricing's settings, from LASTMILE_PRICING_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.config import RegionsFile, ServiceSettings
from services.shared_kernel.regions import SHIPPED_REGIONS_FILE


class PricingSettings(ServiceSettings):
    """Listen addresses, the quote signing keys, quote validity and the key set's max age."""

    model_config = SettingsConfigDict(env_prefix="LASTMILE_PRICING_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "pricing"

    grpc_port: int = Field(default=50051, ge=0, le=65535)
    admin_port: int = Field(default=9451, ge=-1, le=65535)
    # A PEM file of Ed25519 private keys (PKCS#8), shared with no other service: the first
    # signs new quotes, the others only verify (a rotation). Every replica reads the same
    # file. Unset in development only: each process then makes a key of its own.
    quote_keys_file: Path | None = None
    quote_validity_seconds: int = Field(default=900, gt=0, le=86_400)
    # How long verifiers may rely on the published key set before asking again.
    quote_keys_max_age_seconds: int = Field(default=300, gt=0, le=86_400)
    # The service regions (JSON, see README "Regions"): no quote for a pickup outside all.
    regions_file: RegionsFile = Path(SHIPPED_REGIONS_FILE)
    currency: str = Field(default="EUR", pattern="^[A-Z]{3}$")

    def secrets_with_defaults(self) -> list[str]:
        if self.quote_keys_file is None:
            return ["quote_keys_file"]
        return []
