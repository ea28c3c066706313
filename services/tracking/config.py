"""tracking's settings, from LASTMILE_TRACKING_* environment variables."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.config import ServiceSettings


class TrackingSettings(ServiceSettings):
    """Listen addresses, the broker, the orders upstream, and the watch stream's pacing."""

    model_config = SettingsConfigDict(env_prefix="LASTMILE_TRACKING_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "tracking"

    grpc_port: int = Field(default=50055, ge=0, le=65535)
    admin_port: int = Field(default=9455, ge=-1, le=65535)
    nats_url: str = Field(default="nats://127.0.0.1:4222", pattern="^(nats|tls)://")
    orders_target: str = "127.0.0.1:50052"
    # Each GetDelivery call's deadline; the watcher's own deadline caps it further.
    orders_deadline_seconds: float = Field(default=2.0, gt=0, le=30)
    # Silence after which a watch stream gets a heartbeat (the contract says 15 s).
    heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    # Updates one watcher may fall behind before it is dropped as too slow.
    watcher_queue_size: int = Field(default=64, ge=1, le=10_000)
