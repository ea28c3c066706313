"""fleet's settings, from LASTMILE_FLEET_* environment variables."""

from __future__ import annotations

import os
import socket
from typing import ClassVar

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.runtime.config import ServiceSettings


def _default_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class FleetSettings(ServiceSettings):
    """Listen addresses, database and broker, the orders and dispatch upstreams, and the
    timing and limits of courier sessions and the Link."""

    model_config = SettingsConfigDict(env_prefix="LASTMILE_FLEET_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "fleet"

    grpc_port: int = Field(default=50053, ge=0, le=65535)
    admin_port: int = Field(default=9453, ge=-1, le=65535)
    # Courier sessions are long-lived streams: one per connected courier.
    max_concurrent_streams: int = Field(default=20_000, gt=0)
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/fleet", pattern="^postgres(ql)?://"
    )
    database_pool_size: int = Field(default=20, ge=2, le=200)
    # Apply pending migrations before serving; off where a deploy job runs
    # `python -m services.fleet migrate` instead.
    migrate_on_start: bool = True
    nats_url: str = Field(default="nats://127.0.0.1:4222", pattern="^(nats|tls)://")
    orders_target: str = "127.0.0.1:50052"
    # Each MarkPickedUp / MarkDelivered call's deadline, covering its retries.
    orders_deadline_seconds: float = Field(default=5.0, gt=0, le=30)
    # host:port of every dispatch replica, comma-separated; the active one accepts the Link.
    dispatch_targets: str = "127.0.0.1:50054"
    # This replica's id on the Link; a new Link with the same id replaces the old one.
    replica_id: str = Field(default_factory=_default_replica_id, min_length=1)
    heartbeat_interval_seconds: float = Field(default=10.0, gt=0, le=300)
    heartbeat_timeout_seconds: float = Field(default=30.0, gt=0, le=900)
    # How long a disconnected courier keeps their status for a reconnect to resume.
    resume_grace_seconds: float = Field(default=60.0, gt=0, le=3600)
    session_queue_size: int = Field(default=64, ge=4, le=10_000)
    # A session queue full for this long is a slow consumer, and closed.
    slow_consumer_seconds: float = Field(default=10.0, gt=0, le=300)
    messages_per_second: float = Field(default=50.0, gt=0)
    message_burst: int = Field(default=100, ge=1)
    recent_answers_per_courier: int = Field(default=32, ge=1, le=1000)
    link_queue_size: int = Field(default=10_000, ge=10, le=1_000_000)
    # PositionBatches to dispatch: at most this long between a fix and its batch.
    position_flush_seconds: float = Field(default=0.05, gt=0, le=10)
    position_publish_seconds: float = Field(default=1.0, gt=0, le=60)
    # Drained sessions are told to reconnect after a random delay up to this long.
    drain_reconnect_spread_seconds: float = Field(default=5.0, ge=0, le=300)

    @field_validator("dispatch_targets")
    @classmethod
    def _targets_listed(cls, value: str) -> str:
        targets = [target.strip() for target in value.split(",")]
        if not all(target.count(":") == 1 and target.split(":")[1].isdigit() for target in targets):
            raise ValueError("must be a comma-separated list of host:port")
        return ",".join(targets)

    @model_validator(mode="after")
    def _timeout_exceeds_interval(self) -> FleetSettings:
        if self.heartbeat_timeout_seconds <= self.heartbeat_interval_seconds:
            raise ValueError("heartbeat_timeout_seconds must exceed heartbeat_interval_seconds")
        return self

    @property
    def dispatch_target_list(self) -> list[str]:
        return self.dispatch_targets.split(",")
