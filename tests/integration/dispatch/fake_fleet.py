"""A fleet replica faked at the process boundary: it opens a Link to dispatch with the
generated stub, sends what a test says, and collects what dispatch sends back."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import grpc
from google.protobuf import timestamp_pb2

from lastmile.common.v1 import geo_pb2
from lastmile.dispatch.v1 import dispatch_internal_pb2 as link
from lastmile.dispatch.v1 import dispatch_internal_pb2_grpc
from lastmile.fleet.v1 import courier_pb2, offer_pb2
from tests.integration.dispatch.polling import wait_for

Bicycle = courier_pb2.VEHICLE_TYPE_BICYCLE
Van = courier_pb2.VEHICLE_TYPE_VAN
Idle = courier_pb2.COURIER_STATUS_IDLE


def stamp(moment: datetime | None = None) -> timestamp_pb2.Timestamp:
    result = timestamp_pb2.Timestamp()
    result.FromDatetime(moment or datetime.now(UTC))
    return result


def courier(
    courier_id: str,
    latitude: float,
    longitude: float,
    *,
    vehicle: courier_pb2.VehicleType.ValueType = Bicycle,
    status: courier_pb2.CourierStatus.ValueType = Idle,
    version: int = 1,
    offer_id: str = "",
    delivery_id: str = "",
) -> courier_pb2.Courier:
    return courier_pb2.Courier(
        courier_id=courier_id,
        vehicle_type=vehicle,
        status=status,
        connected=True,
        version=version,
        offer_id=offer_id,
        delivery_id=delivery_id,
        last_location=courier_pb2.Location(
            point=geo_pb2.GeoPoint(latitude=latitude, longitude=longitude),
            recorded_time=stamp(),
        ),
    )


class FakeFleet:
    """One fleet replica's end of the Link."""

    def __init__(self, channel: grpc.aio.Channel, replica_id: str) -> None:
        self.replica_id = replica_id
        self._stub = dispatch_internal_pb2_grpc.DispatchInternalServiceStub(channel)
        self._outbox: asyncio.Queue[link.LinkRequest | None] = asyncio.Queue()
        self.received: list[link.LinkResponse] = []
        self.error: grpc.aio.AioRpcError | None = None
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._call: grpc.aio.StreamStreamCall[link.LinkRequest, link.LinkResponse] | None = None

    async def connect(self, *couriers: courier_pb2.Courier, hello: bool = True) -> FakeFleet:
        """Open the Link; with `hello`, send it and a one-chunk snapshot of `couriers`."""
        # Reader/writer style: with a request generator, grpc reports INTERNAL instead of
        # dispatch's status when dispatch ends the Link while a request is being written.
        self._call = self._stub.Link()  # type: ignore[call-arg]  # grpc-stubs wants an iterator
        self._writer = asyncio.create_task(self._write())
        self._reader = asyncio.create_task(self._read())
        if hello:
            self.send(link.LinkRequest(hello=link.LinkHello(fleet_replica_id=self.replica_id)))
            self.snapshot(*couriers)
        return self

    def send(self, request: link.LinkRequest) -> None:
        self._outbox.put_nowait(request)

    def snapshot(self, *couriers: courier_pb2.Courier, snapshot_id: str = "s1") -> None:
        chunk = link.CourierSnapshot(snapshot_id=snapshot_id, couriers=couriers, last_chunk=True)
        self.send(link.LinkRequest(snapshot=chunk))

    def changed(self, state: courier_pb2.Courier) -> None:
        self.send(link.LinkRequest(courier_changed=link.CourierChanged(courier=state)))

    def moved(self, courier_id: str, latitude: float, longitude: float) -> None:
        position = courier_pb2.CourierPosition(
            courier_id=courier_id,
            location=courier_pb2.Location(
                point=geo_pb2.GeoPoint(latitude=latitude, longitude=longitude),
                recorded_time=stamp(),
            ),
        )
        self.send(link.LinkRequest(positions=link.PositionBatch(positions=[position])))

    def answer(
        self, offer: offer_pb2.Offer, courier_id: str, outcome: link.OfferOutcome.ValueType
    ) -> None:
        response = link.OfferResponse(
            offer_id=offer.offer_id,
            courier_id=courier_id,
            delivery_id=offer.delivery_id,
            outcome=outcome,
            respond_time=stamp(),
        )
        self.send(link.LinkRequest(offer_response=response))

    def offers(self, delivery_id: str) -> list[link.CourierOffer]:
        return [r.offer for r in self.received if r.HasField("offer")
                and r.offer.offer.delivery_id == delivery_id]  # fmt: skip

    def cancellations(self, delivery_id: str) -> list[link.CourierOfferCancellation]:
        return [r.offer_cancellation for r in self.received if r.HasField("offer_cancellation")
                and r.offer_cancellation.cancellation.delivery_id == delivery_id]  # fmt: skip

    def assignments(self, delivery_id: str) -> list[link.CourierAssignment]:
        return [r.assignment for r in self.received if r.HasField("assignment")
                and r.assignment.assignment.delivery_id == delivery_id]  # fmt: skip

    async def offer_of(self, delivery_id: str, number: int = 1) -> link.CourierOffer:
        """The `number`th offer of the delivery this replica received."""

        def arrived() -> link.CourierOffer | None:
            offers = self.offers(delivery_id)
            return offers[number - 1] if len(offers) >= number else None

        return await wait_for(arrived, f"offer {number} of {delivery_id} on {self.replica_id}")

    async def ended(self) -> grpc.StatusCode:
        """The status the Link ended with (OK if dispatch closed it cleanly)."""
        assert self._reader is not None
        assert self._call is not None
        await asyncio.wait_for(asyncio.shield(self._reader), timeout=20)
        return await self._call.code()

    async def details(self) -> str:
        assert self._call is not None
        return await self._call.details() or ""

    async def close(self) -> None:
        self._outbox.put_nowait(None)
        if self._call is not None:
            self._call.cancel()
        for task in (self._writer, self._reader):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _write(self) -> None:
        assert self._call is not None
        while (request := await self._outbox.get()) is not None:
            try:
                await self._call.write(request)
            except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
                return  # the Link ended; its status is the call's
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
            await self._call.done_writing()

    async def _read(self) -> None:
        assert self._call is not None
        try:
            async for response in self._call:
                self.received.append(response)
        except grpc.aio.AioRpcError as ended:
            self.error = ended
