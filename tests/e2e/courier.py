"""A scripted courier app for end-to-end tests: one session stream through the edge,
driven step by step by the test, with every message from fleet kept in order."""

from __future__ import annotations

import itertools
import queue
import threading
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from lastmile.common.v1 import geo_pb2
from lastmile.fleet.v1 import courier_pb2, courier_session_pb2, courier_session_pb2_grpc

ANSWER_SECONDS = 30.0
_CLOSED = object()


class ScriptedCourier:
    """Sends what the test says and hands back fleet's messages one kind at a time."""

    def __init__(self, target: str, token: str, name: str) -> None:
        self._ids = (f"{name}-{n}" for n in itertools.count(1))
        self._outbox: queue.Queue[courier_session_pb2.ConnectRequest | None] = queue.Queue()
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._channel = grpc.insecure_channel(target)
        stub = courier_session_pb2_grpc.CourierSessionServiceStub(self._channel)
        self._call = stub.Connect(
            iter(self._outbox.get, None), metadata=(("authorization", f"Bearer {token}"),)
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session = self.expect("session_started").session_started

    def _read(self) -> None:
        try:
            for message in self._call:
                self._inbox.put(message)
        except grpc.RpcError as error:
            self._inbox.put(error)
        finally:
            self._inbox.put(_CLOSED)

    def send(self, **message: Any) -> str:
        """Send one up message, e.g. `send(go_online=GoOnline(...))`; returns its id."""
        message_id = next(self._ids)
        request = courier_session_pb2.ConnectRequest(client_message_id=message_id, **message)
        self._outbox.put(request)
        return message_id

    def expect(
        self, kind: str, *, skipping: tuple[str, ...] = ("ack",)
    ) -> courier_session_pb2.ConnectResponse:
        """The next message of `kind`; messages of the `skipping` kinds may come first,
        anything else fails the test."""
        while True:
            message = self._inbox.get(timeout=ANSWER_SECONDS)
            if message is _CLOSED or isinstance(message, grpc.RpcError):
                raise AssertionError(f"the session ended while waiting for {kind}: {message}")
            received = message.WhichOneof("message")
            if received == kind:
                return message  # type: ignore[no-any-return]
            if received not in skipping:
                raise AssertionError(f"expected {kind}, got {message}")

    def next_event(self, wait: float = ANSWER_SECONDS) -> courier_session_pb2.ConnectResponse:
        """The next message that is not an Ack; queue.Empty if none came within `wait`."""
        while True:
            message = self._inbox.get(timeout=wait)
            if message is _CLOSED or isinstance(message, grpc.RpcError):
                raise AssertionError(f"the session ended: {message}")
            if message.WhichOneof("message") != "ack":
                return message  # type: ignore[no-any-return]

    def ack_of(self, message_id: str) -> None:
        """Wait for the Ack of one message, failing on a MessageError."""
        answer = self.expect("ack", skipping=())
        assert answer.ack.client_message_id == message_id, answer

    def go_online(self, latitude: float, longitude: float) -> None:
        self.ack_of(
            self.send(
                go_online=courier_session_pb2.GoOnline(
                    vehicle_type=courier_pb2.VEHICLE_TYPE_CAR, location=fix(latitude, longitude)
                )
            )
        )

    def move_to(self, latitude: float, longitude: float) -> None:
        self.ack_of(
            self.send(
                location_update=courier_session_pb2.LocationUpdate(
                    locations=[fix(latitude, longitude)]
                )
            )
        )

    def close(self) -> None:
        """Hang up like an app that is switched off."""
        self._outbox.put(None)
        self._call.cancel()  # type: ignore[no-untyped-call]
        self._reader.join(timeout=10)
        self._channel.close()


def fix(latitude: float, longitude: float) -> courier_pb2.Location:
    recorded = timestamp_pb2.Timestamp()
    recorded.GetCurrentTime()
    return courier_pb2.Location(
        point=geo_pb2.GeoPoint(latitude=latitude, longitude=longitude),
        accuracy_meters=5,
        recorded_time=recorded,
    )
