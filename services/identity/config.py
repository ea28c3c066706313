"""identity's settings, from LASTMILE_IDENTITY_* environment variables."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.identity.domain.credentials import EmailAddress, check_password
from services.runtime.config import ConfigurationError, Environment, ServiceSettings
from services.runtime.errors import Violations

DEVELOPMENT_KEY_ENCRYPTION_SECRET = "development-only-key-encryption-secret-not-for-production"
DEVELOPMENT_OPS_PASSWORD = "dev-only-operator-password-change-me"


class IdentitySettings(ServiceSettings):
    """Listen addresses, database, token issuance, lockout, key lifecycle and the ops
    account created at start-up."""

    model_config = SettingsConfigDict(env_prefix="LASTMILE_IDENTITY_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "identity"

    grpc_port: int = Field(default=50050, ge=0, le=65535)
    admin_port: int = Field(default=9450, ge=-1, le=65535)
    database_url: str = "postgresql://postgres@127.0.0.1:5432/identity"

    token_issuer: str = Field(default="https://identity.lastmile.dev", min_length=1)
    token_audience: str = Field(default="lastmile", min_length=1)
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    # Clock skew verifiers may tolerate; a retired key stays published this much longer.
    token_leeway_seconds: int = Field(default=60, ge=0, le=3_600)

    # Seals signing keys at rest; changing it makes the stored keys unusable.
    key_encryption_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_KEY_ENCRYPTION_SECRET), min_length=32
    )
    # Checked at start-up and on every JWKS refresh; 0 rotates only on demand.
    signing_key_max_age_days: int = Field(default=90, ge=0, le=3_650)
    # How often the admin port's JWKS document is re-read, to see other replicas' rotations.
    jwks_refresh_seconds: float = Field(default=60.0, gt=0, le=3_600)

    lockout_max_failures: int = Field(default=5, ge=1, le=100)
    lockout_window_seconds: int = Field(default=900, gt=0)
    lockout_duration_seconds: int = Field(default=900, gt=0)

    # The one ops account; an empty email provisions none.
    ops_email: str = "ops@lastmile.dev"
    ops_password: SecretStr = SecretStr(DEVELOPMENT_OPS_PASSWORD)
    ops_display_name: str = Field(default="Operations", min_length=1, max_length=100)

    def secrets_with_defaults(self) -> list[str]:
        defaults = []
        if self.key_encryption_secret.get_secret_value() == DEVELOPMENT_KEY_ENCRYPTION_SECRET:
            defaults.append("key_encryption_secret")
        if self.ops_password.get_secret_value() == DEVELOPMENT_OPS_PASSWORD:
            defaults.append("ops_password")
        return defaults

    @model_validator(mode="after")
    def _ops_account_is_valid(self) -> IdentitySettings:
        problem = self._ops_account_problem()
        if problem is not None:
            # Raised as is, not as ValueError: a ValidationError would echo every input,
            # secrets included, into the start-up error.
            raise ConfigurationError(f"invalid configuration for identity:\n  {problem}")
        return self

    def _ops_account_problem(self) -> str | None:
        if not self.ops_email:
            if self.environment is Environment.PRODUCTION:
                return "LASTMILE_IDENTITY_OPS_EMAIL: is required in production"
            return None
        email = EmailAddress.parse(self.ops_email)
        if email is None:
            return "LASTMILE_IDENTITY_OPS_EMAIL: is not a valid email address"
        violations = Violations()
        check_password(self.ops_password.get_secret_value(), email, violations, "")
        if violations.found:
            return f"LASTMILE_IDENTITY_OPS_PASSWORD: too weak, {violations.found[0].description}"
        return None
