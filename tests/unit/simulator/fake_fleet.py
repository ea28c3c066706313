"""A fake fleet: a real in-process CourierSessionService that follows the proto's script
(SessionStarted, an Offer, an Assignment after the accept, Acks) and records every up
message of every session."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import code_pb2, error_details_pb2, status_pb2

from lastmile.common.v1 import geo_pb2, parcel_pb2, stop_pb2
from lastmile.fleet.v1 import courier_pb2, courier_session_pb2, courier_session_pb2_grpc, offer_pb2

Request = courier_session_pb2.ConnectRequest
Response = courier_session_pb2.ConnectResponse

PICKUP = (52.5205, 13.4000)
DROPOFF = (52.5220, 13.4000)


def _stop(where: tuple[float, float]) -> stop_pb2.Stop:
    point = geo_pb2.GeoPoint(latitude=where[0], longitude=where[1])
    return stop_pb2.Stop(address="Simulated street 1", point=point)


def _in(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int((time.time() + seconds) * 1e9))
    return stamp


def offer(offer_id: str = "offer-1", delivery_id: str = "d-1") -> offer_pb2.Offer:
    return offer_pb2.Offer(
        offer_id=offer_id, delivery_id=delivery_id, pickup=_stop(PICKUP), dropoff=_stop(DROPOFF),
        parcel=parcel_pb2.Parcel(size=parcel_pb2.PARCEL_SIZE_SMALL, weight_grams=800),
        create_time=_in(0), expire_time=_in(30),
    )  # fmt: skip


def assignment(delivery_id: str = "d-1") -> offer_pb2.Assignment:
    return offer_pb2.Assignment(
        offer_id="offer-1", delivery_id=delivery_id, pickup=_stop(PICKUP), dropoff=_stop(DROPOFF),
        assign_time=_in(0),
    )  # fmt: skip


@dataclass
class FakeFleet(courier_session_pb2_grpc.CourierSessionServiceServicer):
    """Session 1 takes the courier through one delivery and ends DRAINING; later sessions
    resume IDLE and only acknowledge. `fail_first_pickup` answers the first ConfirmPickup
    with UNAVAILABLE, as when orders does not answer."""

    fail_first_pickup: bool = False
    sessions: list[list[Request]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)

    async def Connect(
        self,
        request_iterator: AsyncIterator[Request],
        context: grpc.aio.ServicerContext[Request, Response],
    ) -> AsyncIterator[Response]:
        self.authorizations.append(dict(context.invocation_metadata() or ())["authorization"])
        received: list[Request] = []
        self.sessions.append(received)
        first = len(self.sessions) == 1
        status = courier_pb2.COURIER_STATUS_OFFLINE if first else courier_pb2.COURIER_STATUS_IDLE
        yield Response(session_started=courier_session_pb2.SessionStarted(
            session_id=f"s-{len(self.sessions)}", status=status, resumed=not first,
            heartbeat_interval=Duration(seconds=30), heartbeat_timeout=Duration(seconds=90),
        ))  # fmt: skip
        async for request in request_iterator:
            received.append(request)
            for response in self._answer(request, received, first):
                yield response
            if first and request.HasField("confirm_dropoff"):
                await context.abort(grpc.StatusCode.UNAVAILABLE, "draining")

    def _answer(self, request: Request, received: list[Request], first: bool) -> list[Response]:
        kind = request.WhichOneof("message")
        ack = Response(ack=courier_session_pb2.Ack(client_message_id=request.client_message_id))
        if kind == "location_update":
            return []
        if kind == "confirm_pickup" and self.fail_first_pickup and _count(received, kind) == 1:
            # As fleet answers it: not processed, with the delay to wait before re-sending.
            retry = any_pb2.Any()
            retry.Pack(error_details_pb2.RetryInfo(retry_delay=Duration(nanos=10**8)))
            status = status_pb2.Status(
                code=code_pb2.UNAVAILABLE, message="orders did not answer", details=[retry]
            )
            error = courier_session_pb2.MessageError(
                client_message_id=request.client_message_id, status=status
            )
            return [Response(error=error)]
        if first and kind == "go_online":
            return [ack, Response(offer=offer(), send_time=_in(0))]
        if first and kind == "accept_offer":
            return [ack, Response(assignment=assignment())]
        if first and kind == "confirm_dropoff":
            draining = courier_session_pb2.SessionClosing(
                reason=courier_session_pb2.SESSION_CLOSING_REASON_DRAINING,
                reconnect_after=Duration(nanos=50_000_000),
            )
            return [ack, Response(session_closing=draining)]
        return [ack]

    def kinds(self, session: int) -> list[str]:
        """The up messages of one session, location updates and heartbeats left out."""
        quiet = ("location_update", "heartbeat")
        messages = self.sessions[session]
        return [
            str(m.WhichOneof("message")) for m in messages if m.WhichOneof("message") not in quiet
        ]


def _count(received: list[Request], kind: str) -> int:
    return sum(1 for message in received if message.WhichOneof("message") == kind)
