"""The one mapping from domain errors to gRPC statuses with google.rpc details, and back.

Servers use `to_grpc_status`; clients of other services use `domain_error_from` so that
an upstream's precise failure reaches the caller's handler as a domain error.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any, cast

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.runtime import errors

_CODES: dict[type[errors.DomainError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Conflict: grpc.StatusCode.ABORTED,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
}
_DETAILS_KEY = "grpc-status-details-bin"
_ERRORS_BY_CODE = {code: error for error, code in _CODES.items()}


def code_for(error: errors.DomainError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return grpc.StatusCode.INTERNAL


def _packed(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def _duration(delta: timedelta) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromTimedelta(delta)
    return duration


def to_rpc_status(error: errors.DomainError, *, domain: str) -> status_pb2.Status:
    """The google.rpc.Status for `error`: ErrorInfo always, plus BadRequest / RetryInfo."""
    code = code_for(error)
    details = [
        _packed(
            error_details_pb2.ErrorInfo(reason=error.reason, domain=domain, metadata=error.metadata)
        )
    ]
    if isinstance(error, errors.InvalidArgument):
        details.append(
            _packed(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=v.field, description=v.description
                        )
                        for v in error.violations
                    ]
                )
            )
        )
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, timedelta):
        details.append(_packed(error_details_pb2.RetryInfo(retry_delay=_duration(retry_after))))
    return status_pb2.Status(code=code.value[0], message=error.message, details=details)


def to_grpc_status(error: errors.DomainError, *, domain: str) -> grpc.Status:
    """A grpc.Status whose trailing metadata carries the rich status details."""
    status: grpc.Status = rpc_status.to_status(to_rpc_status(error, domain=domain))
    return status


def rich_status(call_error: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    """The google.rpc.Status an upstream sent in its trailers, if it sent one."""
    for key, value in cast(Iterable[tuple[str, Any]], call_error.trailing_metadata() or ()):
        if key == _DETAILS_KEY and isinstance(value, bytes):
            return status_pb2.Status.FromString(value)
    return None


def domain_error_from(call_error: grpc.aio.AioRpcError) -> errors.DomainError | None:
    """Translate an upstream's failure back into a domain error, keeping reason,
    metadata and field violations; None for codes that have no domain meaning."""
    error_class = _ERRORS_BY_CODE.get(call_error.code())
    if error_class is None:
        return None
    message = call_error.details() or call_error.code().name
    status = rich_status(call_error)
    info = error_details_pb2.ErrorInfo()
    violations: list[errors.FieldViolation] = []
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations = [
                errors.FieldViolation(v.field, v.description) for v in bad_request.field_violations
            ]
    reason = info.reason or None
    if error_class is errors.InvalidArgument:
        return errors.InvalidArgument(violations, message=message, reason=reason)
    return error_class(message, reason=reason, metadata=dict(info.metadata))
