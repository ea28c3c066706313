"""Domain errors: the one vocabulary in which handlers report failures.

This module imports nothing from gRPC or protobuf, so domain code may raise these.
`services.runtime.status` maps each class to a gRPC status code with rich details.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid field: its path in the request (`terms.pickup.latitude`) and why."""

    field: str
    description: str


class DomainError(Exception):
    """Base of every expected failure. `reason` is an ErrorReason name without prefix."""

    reason: str = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidArgument(DomainError):
    """The request is malformed; each bad field is listed."""

    reason = "VALIDATION_FAILED"

    def __init__(
        self,
        violations: list[FieldViolation],
        *,
        message: str | None = None,
        reason: str | None = None,
    ) -> None:
        summary = message or "invalid request: " + "; ".join(
            f"{v.field}: {v.description}" for v in violations
        )
        super().__init__(summary, reason=reason)
        self.violations = violations


class Unauthenticated(DomainError):
    """The caller has not proven who they are."""

    reason = "UNAUTHENTICATED"


class PermissionDenied(DomainError):
    """The caller is known but may not do this."""

    reason = "PERMISSION_DENIED"


class NotFound(DomainError):
    """The resource does not exist, or the caller may not know that it does."""

    reason = "NOT_FOUND"


class AlreadyExists(DomainError):
    """A resource with the same unique key exists."""

    reason = "ALREADY_EXISTS"


class FailedPrecondition(DomainError):
    """The resource's state does not allow the operation; retrying will not help."""

    reason = "INVALID_STATE"


class Conflict(DomainError):
    """A concurrent writer won; the caller may re-read and decide again."""

    reason = "CONFLICT"


class _RetryLater(DomainError):
    """A failure after which retrying makes sense; `retry_after` says when, if known."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: timedelta | None = None,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.retry_after = retry_after


class ResourceExhausted(_RetryLater):
    """A quota or limit is hit; `retry_after` says when trying again makes sense."""

    reason = "RESOURCE_EXHAUSTED"


class Unavailable(_RetryLater):
    """A dependency is down or the server is draining; the call was not processed."""

    reason = "UPSTREAM_UNAVAILABLE"


@dataclass
class Violations:
    """Collects field violations so that one error names every bad field at once."""

    prefix: str = ""
    found: list[FieldViolation] = field(default_factory=list)

    def add(self, field_path: str, description: str) -> None:
        self.found.append(FieldViolation(self.prefix + field_path, description))

    def check(self, condition: bool, field_path: str, description: str) -> None:
        if not condition:
            self.add(field_path, description)

    def nested(self, prefix: str) -> Violations:
        """A collector that writes into this one with `prefix.` before each path."""
        return Violations(prefix=f"{self.prefix}{prefix}.", found=self.found)

    def raise_if_any(self) -> None:
        if self.found:
            raise InvalidArgument(list(self.found))

    def resolve(self, value: T | None) -> T:
        """`value` when nothing was violated; otherwise INVALID_ARGUMENT naming every field."""
        self.raise_if_any()
        if value is None:
            raise ValueError("a reader returned nothing without recording a violation")
        return value
