"""Typed settings read once from environment variables, failing fast on bad values.

Every service subclasses `ServiceSettings` with its own `env_prefix`; `load_settings`
turns a validation failure into an error that names each offending variable.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import AfterValidator, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.shared_kernel.regions import load_regions


def _usable_regions_file(path: Path) -> Path:
    # A RegionFileError is a ValueError naming the file and the problem, so a bad file
    # stops the service at start-up with the variable's name in front of it.
    load_regions(path)
    return path


# The service regions file (services/shared_kernel/regions.py), checked when settings load.
RegionsFile = Annotated[Path, AfterValidator(_usable_regions_file)]


class Environment(StrEnum):
    """Where the service runs; development is the only one that allows default secrets."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ServiceSettings(BaseSettings):
    """What every service needs: listen addresses, observability and shutdown timing."""

    model_config = SettingsConfigDict(env_prefix="LASTMILE_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "service"

    environment: Environment = Environment.DEVELOPMENT
    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(default=0, ge=0, le=65535)
    admin_host: str = "127.0.0.1"
    # The admin port serves /metrics; 0 picks a free port, -1 disables it.
    admin_port: int = Field(default=0, ge=-1, le=65535)
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    # How long an access log line may wait in the buffer before it is written; graceful
    # shutdown and exit write out the rest.
    log_flush_seconds: float = Field(default=0.5, gt=0, le=3600)
    # OTLP/gRPC collector address, e.g. http://127.0.0.1:4317; unset means no export.
    otlp_endpoint: str | None = None
    # Share of the traces this service starts that are recorded (head sampling); a call
    # with a caller's traceparent follows the caller's decision. Kubernetes sets 0.01.
    trace_sample_ratio: float = Field(default=1.0, ge=0, le=1)
    # Time between reporting NOT_SERVING and refusing new calls, so that load
    # balancers observe the health change first (Kubernetes: > readiness period).
    drain_delay_seconds: float = Field(default=0.0, ge=0, le=300)
    # How long in-flight calls and streams get to finish once draining starts.
    shutdown_grace_seconds: float = Field(default=10.0, gt=0, le=300)
    max_message_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    max_concurrent_streams: int = Field(default=1000, gt=0)

    def secrets_with_defaults(self) -> list[str]:
        """Names of secret settings still at their development default."""
        return []

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_development(self) -> ServiceSettings:
        if self.environment is not Environment.DEVELOPMENT:
            defaults = self.secrets_with_defaults()
            if defaults:
                names = ", ".join(self._env_name(name) for name in defaults)
                raise ValueError(
                    f"default development secrets are not allowed in production: {names}"
                )
        return self

    @classmethod
    def _env_name(cls, field_name: str) -> str:
        prefix = str(cls.model_config.get("env_prefix", ""))
        return f"{prefix}{field_name}".upper()


class ConfigurationError(SystemExit):
    """Raised at start-up when the environment holds an invalid setting."""


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def load_settings(settings_class: type[SettingsT], **overrides: Any) -> SettingsT:
    """Read `settings_class` from the environment; exit with a precise message if invalid."""
    try:
        return settings_class(**overrides)
    except ValidationError as invalid:
        lines = []
        for problem in invalid.errors():
            location = [str(part) for part in problem["loc"]]
            variable = settings_class._env_name(location[0]) if location else "(settings)"
            shown = (
                "" if _is_secret(settings_class, location) else f" (got {problem.get('input')!r})"
            )
            lines.append(f"  {variable}: {problem['msg']}{shown}")
        raise ConfigurationError(
            f"invalid configuration for {settings_class.service_name}:\n" + "\n".join(lines)
        ) from None


def _is_secret(settings_class: type[ServiceSettings], location: list[str]) -> bool:
    """Never echo a secret's value, nor the whole input of a model-level check."""
    if not location:
        return True
    field = settings_class.model_fields.get(location[0])
    return field is None or field.annotation in (SecretStr, SecretStr | None)


def secret_is_default(secret: SecretStr, default: str) -> bool:
    return secret.get_secret_value() == default
