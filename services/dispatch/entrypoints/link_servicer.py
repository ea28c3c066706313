"""The mesh-only DispatchInternalService: the Link."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from lastmile.dispatch.v1 import dispatch_internal_pb2, dispatch_internal_pb2_grpc
from services.dispatch.adapters.link_requests import LinkRequestReader
from services.dispatch.adapters.link_responses import link_response
from services.dispatch.domain.fleet_reports import LinkReport
from services.dispatch.service_layer.matcher import Matcher
from services.runtime.draining import Drain
from services.runtime.grpc_types import ServicerContext


class DispatchInternalServicer(dispatch_internal_pb2_grpc.DispatchInternalServiceServicer):
    """Links from fleet replicas, served by the region's shell while this replica leads
    (UNAVAILABLE on a standby); draining ends them with UNAVAILABLE so fleet reconnects."""

    def __init__(self, matcher: Matcher, drain: Drain) -> None:
        self._matcher = matcher
        self._drain = drain

    async def Link(
        self,
        request_iterator: AsyncIterable[dispatch_internal_pb2.LinkRequest],
        context: ServicerContext,
    ) -> AsyncIterator[dispatch_internal_pb2.LinkResponse]:
        shell = self._matcher.shell()
        reader = LinkRequestReader()

        async def reports() -> AsyncIterator[LinkReport]:
            async for request in self._drain.guard(aiter(request_iterator)):
                yield reader.read(request)

        async for message in shell.serve_link(reports()):
            yield link_response(message)
