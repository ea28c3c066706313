"""The public TrackingService."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime

from lastmile.tracking.v1 import tracking_pb2, tracking_pb2_grpc
from services.runtime.auth import require_role
from services.runtime.draining import Drain
from services.runtime.grpc_types import ServicerContext
from services.tracking.entrypoints.watch_messages import watch_message
from services.tracking.service_layer.watch import DeliveryWatch


class TrackingServicer(tracking_pb2_grpc.TrackingServiceServicer):
    """Watch streams; orders decides who may watch, draining ends them with UNAVAILABLE."""

    def __init__(self, watch: DeliveryWatch, drain: Drain, clock: Callable[[], datetime]) -> None:
        self._watch = watch
        self._drain = drain
        self._clock = clock

    async def WatchDelivery(
        self, request: tracking_pb2.WatchDeliveryRequest, context: ServicerContext
    ) -> AsyncIterator[tracking_pb2.WatchDeliveryResponse]:
        caller = require_role()
        async with self._watch.watching(caller, request.delivery_id) as updates:
            async for update in self._drain.guard(updates):
                yield watch_message(update, self._clock())
