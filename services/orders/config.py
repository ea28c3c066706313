"""orders' settings, from LASTMILE_ORDERS_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.runtime.config import RegionsFile, ServiceSettings, secret_is_default
from services.shared_kernel.regions import SHIPPED_REGIONS_FILE

DEVELOPMENT_PAGE_TOKEN_KEY = "development-only-page-token-key-not-for-production"


class OrdersSettings(ServiceSettings):
    """Listen addresses, the database and broker, the pricing upstream, its deadline and how
    often its quote keys are fetched."""

    model_config = SettingsConfigDict(env_prefix="LASTMILE_ORDERS_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "orders"

    grpc_port: int = Field(default=50052, ge=0, le=65535)
    admin_port: int = Field(default=9452, ge=-1, le=65535)
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/orders", pattern="^postgres(ql)?://"
    )
    database_pool_size: int = Field(default=20, ge=2, le=200)
    # Apply pending migrations before serving; off where a deploy job runs
    # `python -m services.orders migrate` instead.
    migrate_on_start: bool = True
    nats_url: str = Field(default="nats://127.0.0.1:4222", pattern="^(nats|tls)://")
    pricing_target: str = "127.0.0.1:50051"
    # Each pricing call's deadline; the caller's remaining deadline caps it further.
    pricing_deadline_seconds: float = Field(default=2.0, gt=0, le=30)
    # How often pricing's quote keys are fetched again (pricing's max age may shorten it),
    # and the least time between two early fetches for a kid orders does not know.
    quote_keys_refresh_seconds: float = Field(default=300.0, gt=0, le=86_400)
    quote_keys_min_refresh_seconds: float = Field(default=5.0, gt=0, le=3_600)
    # The service regions (JSON, see README "Regions"): a pickup outside all is refused.
    regions_file: RegionsFile = Path(SHIPPED_REGIONS_FILE)
    # Items of one bulk import created at the same time.
    import_concurrency: int = Field(default=16, ge=1, le=256)
    # HMAC key of page tokens; every replica needs the same one.
    page_token_key: SecretStr = Field(default=SecretStr(DEVELOPMENT_PAGE_TOKEN_KEY), min_length=32)

    def secrets_with_defaults(self) -> list[str]:
        if secret_is_default(self.page_token_key, DEVELOPMENT_PAGE_TOKEN_KEY):
            return ["page_token_key"]
        return []
