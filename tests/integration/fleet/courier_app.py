"""A courier app on fleet's session stream, as a test drives it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc

from lastmile.common.v1 import geo_pb2
from lastmile.fleet.v1 import courier_pb2
from lastmile.fleet.v1 import courier_session_pb2 as session_pb2
from lastmile.fleet.v1 import courier_session_pb2_grpc as session_pb2_grpc
from services.contracts import common_v1
from services.runtime.interceptors.auth_context import ACCOUNT_ID_HEADER, ROLE_HEADER

Call = grpc.aio.StreamStreamCall[session_pb2.ConnectRequest, session_pb2.ConnectResponse]
# grpc-stubs lacks grpc.aio.EOF, what read() returns once a stream has ended.
EOF_MARK: object = grpc.aio.EOF  # type: ignore[attr-defined]


def location(
    latitude: float = 52.52, longitude: float = 13.41, *, age_seconds: float = 0
) -> courier_pb2.Location:
    return courier_pb2.Location(
        point=geo_pb2.GeoPoint(latitude=latitude, longitude=longitude),
        recorded_time=common_v1.timestamp_message(
            datetime.now(UTC) - timedelta(seconds=age_seconds)
        ),
    )


class CourierApp:
    """One session of one courier: write up messages, read down messages by kind."""

    def __init__(
        self, stub: session_pb2_grpc.CourierSessionServiceAsyncStub, courier_id: str, role: str
    ) -> None:
        self.courier_id = courier_id
        metadata = ((ACCOUNT_ID_HEADER, courier_id), (ROLE_HEADER, role))
        # grpc.aio takes no request iterator when the caller writes with write();
        # grpc-stubs does not know that.
        self.call: Call = stub.Connect(metadata=metadata)  # type: ignore[call-arg]

    async def send(self, message_id: str = "", **message: object) -> str:
        """Write one ConnectRequest; returns its client_message_id."""
        await self.call.write(session_pb2.ConnectRequest(client_message_id=message_id, **message))  # type: ignore[arg-type]
        return message_id

    async def ask(self, **message: object) -> session_pb2.ConnectResponse:
        """Send with a fresh id and return the Ack or MessageError for it."""
        message_id = await self.send(uuid.uuid4().hex, **message)
        return await self.answer_to(message_id)

    async def answer_to(self, message_id: str) -> session_pb2.ConnectResponse:
        while True:
            response = await self.next()
            if response.ack.client_message_id == message_id and response.HasField("ack"):
                return response
            if response.HasField("error") and response.error.client_message_id == message_id:
                return response

    async def next(self, kind: str | None = None) -> session_pb2.ConnectResponse:
        """The next message (of `kind`, skipping others)."""
        while True:
            response = await self.call.read()
            assert isinstance(response, session_pb2.ConnectResponse), "the session ended"
            if kind is None or response.WhichOneof("message") == kind:
                return response

    async def go_online(self) -> None:
        answer = await self.ask(
            go_online=session_pb2.GoOnline(
                vehicle_type=courier_pb2.VEHICLE_TYPE_BICYCLE, location=location(age_seconds=60)
            )
        )
        assert answer.HasField("ack"), answer

    async def ended(self) -> grpc.StatusCode:
        """Read to the end of the stream; its status."""
        while True:
            try:
                message = await self.call.read()
            except grpc.aio.AioRpcError as failure:
                return failure.code()
            if message is EOF_MARK:
                return await self.call.code()
