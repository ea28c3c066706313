"""The mesh-only DispatchInternalService: the Link."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from lastmile.dispatch.v1 import dispatch_internal_pb2, dispatch_internal_pb2_grpc
from services.dispatch.adapters.link_requests import LinkRequestReader
from services.dispatch.adapters.link_responses import link_response
from services.dispatch.domain.fleet_reports import LinkReport
from services.dispatch.service_layer.fleet_link import FleetLink
from services.dispatch.service_layer.matcher import Matcher
from services.dispatch.service_layer.ports import Clock
from services.runtime.draining import Drain
from services.runtime.grpc_types import ServicerContext


class DispatchInternalServicer(dispatch_internal_pb2_grpc.DispatchInternalServiceServicer):
    """Links from fleet replicas, served by the active matcher only (UNAVAILABLE on a
    standby); draining ends them with UNAVAILABLE so fleet reconnects."""

    def __init__(self, matcher: Matcher, drain: Drain, *, queue_size: int, clock: Clock) -> None:
        self._matcher = matcher
        self._drain = drain
        self._queue_size = queue_size
        self._clock = clock

    async def Link(
        self,
        request_iterator: AsyncIterable[dispatch_internal_pb2.LinkRequest],
        context: ServicerContext,
    ) -> AsyncIterator[dispatch_internal_pb2.LinkResponse]:
        link = FleetLink(self._matcher.term(), self._matcher.links, self._queue_size, self._clock)
        reader = LinkRequestReader()

        async def reports() -> AsyncIterator[LinkReport]:
            async for request in self._drain.guard(aiter(request_iterator)):
                yield reader.read(request)

        async for message in link.serve(reports()):
            yield link_response(message)
