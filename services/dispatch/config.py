"""dispatch's settings, from LASTMILE_DISPATCH_* environment variables."""

from __future__ import annotations

import os
import socket
from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.runtime.config import ServiceSettings, secret_is_default

DEVELOPMENT_PAGE_TOKEN_KEY = "development-only-dispatch-page-token-key-not-for-production"


def default_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class DispatchSettings(ServiceSettings):
    """Listen addresses, database, broker, the orders upstream, offers, leadership."""

    model_config = SettingsConfigDict(env_prefix="LASTMILE_DISPATCH_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "dispatch"

    grpc_port: int = Field(default=50054, ge=0, le=65535)
    admin_port: int = Field(default=9454, ge=-1, le=65535)
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/dispatch", pattern="^postgres(ql)?://"
    )
    database_pool_size: int = Field(default=10, ge=2, le=200)
    # Apply pending migrations before serving; off where a deploy job runs
    # `python -m services.dispatch migrate` instead.
    migrate_on_start: bool = True
    nats_url: str = Field(default="nats://127.0.0.1:4222", pattern="^(nats|tls)://")
    # The durable JetStream consumer; every replica of one region shares it.
    consumer_name: str = Field(default="dispatch", pattern="^[A-Za-z0-9_-]+$")
    orders_target: str = "127.0.0.1:50052"
    # Each AssignCourier call's deadline; calls that do not settle are retried.
    orders_deadline_seconds: float = Field(default=2.0, gt=0, le=30)
    # Shown in the overview as the active matcher; unique per replica.
    replica_id: str = Field(default_factory=default_replica_id, min_length=1)
    # How long a courier has to answer an offer, and how long beyond that dispatch
    # waits for an answer lost with a broken Link before it gives up on the offer.
    offer_ttl_seconds: float = Field(default=20.0, gt=0, le=600)
    offer_grace_seconds: float = Field(default=2.0, ge=0, le=60)
    # The courier's share of the delivery price, in percent.
    payout_percent: int = Field(default=80, ge=0, le=100)
    # Great-circle pickup -> dropoff times this estimates the road distance.
    road_factor: float = Field(default=1.3, ge=1.0, le=3.0)
    # Couriers farther than this from the pickup are not offered the delivery.
    max_pickup_distance_meters: float = Field(default=10_000.0, gt=0, le=100_000)
    # How often waiting deliveries are retried without a courier becoming IDLE.
    sweep_seconds: float = Field(default=1.0, gt=0, le=60)
    # How often a standby tries for the leader lock, and the leader checks its connection.
    leader_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    # Messages a fleet replica may leave unread on its Link before it is cut off.
    link_queue_size: int = Field(default=1000, ge=1, le=100_000)
    # HMAC key of queue page tokens; every replica needs the same one.
    page_token_key: SecretStr = Field(default=SecretStr(DEVELOPMENT_PAGE_TOKEN_KEY), min_length=32)

    def secrets_with_defaults(self) -> list[str]:
        if secret_is_default(self.page_token_key, DEVELOPMENT_PAGE_TOKEN_KEY):
            return ["page_token_key"]
        return []
