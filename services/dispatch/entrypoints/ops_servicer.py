"""The public DispatchService: the ops view of matching (ops only)."""

from __future__ import annotations

from lastmile.dispatch.v1 import dispatch_pb2, dispatch_pb2_grpc
from services.dispatch.entrypoints.ops_messages import overview_message, queued_message
from services.dispatch.service_layer.overview import DispatchViews
from services.dispatch.service_layer.ports import Clock
from services.runtime.auth import require_role
from services.runtime.context import Role
from services.runtime.grpc_types import ServicerContext
from services.runtime.page_tokens import Cursor, PageTokens

# Queue tokens are not bound to a caller: every ops account sees the same queue.
QUEUE_SCOPE = "dispatch-queue"


class DispatchServicer(dispatch_pb2_grpc.DispatchServiceServicer):
    """The overview and the queue, live from the active matcher's memory."""

    def __init__(self, views: DispatchViews, tokens: PageTokens, clock: Clock) -> None:
        self._views = views
        self._tokens = tokens
        self._clock = clock

    async def GetOverview(
        self, request: dispatch_pb2.GetOverviewRequest, context: ServicerContext
    ) -> dispatch_pb2.GetOverviewResponse:
        require_role(Role.OPS)
        overview = self._views.overview(self._clock())
        return dispatch_pb2.GetOverviewResponse(overview=overview_message(overview))

    async def ListQueuedDeliveries(
        self, request: dispatch_pb2.ListQueuedDeliveriesRequest, context: ServicerContext
    ) -> dispatch_pb2.ListQueuedDeliveriesResponse:
        require_role(Role.OPS)
        after = None
        if request.page_token:
            cursor = self._tokens.read(request.page_token, QUEUE_SCOPE)
            after = (cursor.created_at, cursor.item_id)
        page = self._views.queue_page(after, request.page_size)
        now = self._clock()
        return dispatch_pb2.ListQueuedDeliveriesResponse(
            deliveries=[queued_message(delivery, now) for delivery in page.deliveries],
            next_page_token=(
                self._tokens.issue(Cursor(*page.last), QUEUE_SCOPE) if page.last else ""
            ),
            total_size=page.total_size,
        )
