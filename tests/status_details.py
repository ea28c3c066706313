"""Reading the google.rpc details that Lastmile services attach to their errors."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2

from services.runtime.status import rich_status


def status_of(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    status = rich_status(error)
    assert status is not None, "the error carries no google.rpc.Status"
    return status


def error_info(error: grpc.aio.AioRpcError | status_pb2.Status) -> error_details_pb2.ErrorInfo:
    status = error if isinstance(error, status_pb2.Status) else status_of(error)
    info = error_details_pb2.ErrorInfo()
    assert any(detail.Unpack(info) for detail in status.details), "no ErrorInfo"
    return info


def field_violations(error: grpc.aio.AioRpcError | status_pb2.Status) -> set[str]:
    """The fields a BadRequest detail names; empty without one."""
    status = error if isinstance(error, status_pb2.Status) else status_of(error)
    bad_request = error_details_pb2.BadRequest()
    for detail in status.details:
        if detail.Unpack(bad_request):
            return {v.field for v in bad_request.field_violations}
    return set()


def violations(error: grpc.aio.AioRpcError) -> dict[str, str]:
    """Field -> description of the BadRequest detail; fails the test without one."""
    bad_request = error_details_pb2.BadRequest()
    assert any(detail.Unpack(bad_request) for detail in status_of(error).details), "no BadRequest"
    return {v.field: v.description for v in bad_request.field_violations}
