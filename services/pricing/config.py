"""pricing's settings, from LASTMILE_PRICING_* environment variables."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.runtime.config import ServiceSettings

DEVELOPMENT_QUOTE_KEY = "development-only-quote-signing-key-not-for-production"


class PricingSettings(ServiceSettings):
    """Listen addresses, the quote signing key and quote validity."""

    model_config = SettingsConfigDict(env_prefix="LASTMILE_PRICING_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "pricing"

    grpc_port: int = Field(default=50051, ge=0, le=65535)
    admin_port: int = Field(default=9451, ge=-1, le=65535)
    # HMAC key that makes quote ids tamper-evident; shared with no other service.
    quote_signing_key: SecretStr = Field(default=SecretStr(DEVELOPMENT_QUOTE_KEY), min_length=32)
    quote_validity_seconds: int = Field(default=900, gt=0, le=86_400)
    currency: str = Field(default="EUR", pattern="^[A-Z]{3}$")

    def secrets_with_defaults(self) -> list[str]:
        if self.quote_signing_key.get_secret_value() == DEVELOPMENT_QUOTE_KEY:
            return ["quote_signing_key"]
        return []
