"""The courier load generator of live-fleet and dispatch-latency, run as its own process:
`python -m tests.bench.courier_load --fleet HOST:PORT --sessions K ...`.

Courier sessions connect straight to fleet's CourierSessionService with the metadata the
edge forwards for a verified courier (x-lastmile-account-id, x-lastmile-role), many
streams per grpc.aio channel. Each session waits for SessionStarted (reconnecting after a
pause, at most twice, if the call ends before it, as the app does), sends GoOnline with
a location (acked once fleet has written it), then one LocationUpdate with one fix
(recorded_time = now) every --ping-seconds, phased at random so the load is even.
Sessions are opened at --ramp per second, at most --pending of them not yet online.

With --react complete, a courier accepts every offer at once and, once assigned,
confirms the pickup and then the drop-off (each after the previous Ack), so it is IDLE
again after one round of offer → assignment → delivered. With --create-rate R the
process also creates deliveries through orders' CreateDelivery (as a merchant, pickups
spread over the same box) at R per second, open loop, and measures each delivery's
create → offer time: the Offer's arrival at its courier minus the moment the create
call was sent, both on this process's monotonic clock.

Everything it has to say goes to stdout as one JSON object per line: progress every
--progress-seconds, the measured window's start and end, and a final result. SIGTERM or
SIGINT ends it (sessions are cancelled, channels closed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from lastmile.common.v1 import geo_pb2
from lastmile.fleet.v1 import courier_pb2, courier_session_pb2, courier_session_pb2_grpc
from lastmile.orders.v1 import orders_pb2_grpc
from services.runtime.interceptors.auth_context import ACCOUNT_ID_HEADER, ROLE_HEADER
from tests.orders_examples import Metadata, account, create_request, stop

Request = courier_session_pb2.ConnectRequest
SessionCall = grpc.aio.StreamStreamCall[Request, courier_session_pb2.ConnectResponse]
COURIER_ROLE = "courier"
GO_ONLINE_ID = "online"
ONLINE_TIMEOUT_SECONDS = 120.0
CREATE_TIMEOUT_SECONDS = 10.0
MAX_CREATES_IN_FLIGHT = 5000
# A session that ends before SessionStarted (grpc core cancels a call the server has not
# accepted within 30 s) is opened again after a pause, as the courier app reconnects.
START_ATTEMPTS = 3
START_RETRY_PAUSE_SECONDS = (0.5, 2.0)
# A separate TCP connection per channel: otherwise grpc shares one subchannel (and one
# connection) between channels with the same target and arguments.
CHANNEL_OPTIONS = (("grpc.use_local_subchannel_pool", 1),)
# Berlin, roughly 14 km x 14 km: every pickup has couriers well within dispatch's 10 km.
DEFAULT_BOX = (52.46, 13.32, 52.58, 13.52)


@dataclass
class Counters:
    """Cumulative, printed with every progress line."""

    opened: int = 0
    online: int = 0
    sent: int = 0  # location fixes written to fleet
    session_failures: int = 0  # sessions that ended or never came online
    start_retries: int = 0  # sessions opened again after ending before SessionStarted
    slowest_start_ms: int = 0  # the longest wait from opening a session to SessionStarted
    closings: int = 0  # SessionClosing received
    message_errors: int = 0  # MessageError received
    offers: int = 0
    cancellations: int = 0
    assignments: int = 0
    delivered: int = 0
    creates_sent: int = 0
    creates_ok: int = 0
    creates_failed: int = 0
    errors: list[str] = field(default_factory=list)  # the first few, for the report

    def error(self, text: str) -> None:
        if len(self.errors) < 5:
            self.errors.append(text)


class NotStarted(RuntimeError):
    """The session ended before fleet said SessionStarted."""


def _ended(reader: asyncio.Task[str]) -> str:
    if not reader.done():
        return "still open"
    if reader.cancelled():
        return "cancelled"
    failure = reader.exception()
    return repr(failure) if failure is not None else reader.result()


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, "t": time.monotonic(), **fields}), flush=True)


def _location(latitude: float, longitude: float) -> courier_pb2.Location:
    now = time.time_ns()
    return courier_pb2.Location(
        point=geo_pb2.GeoPoint(latitude=latitude, longitude=longitude),
        accuracy_meters=5.0,
        recorded_time=Timestamp(seconds=now // 1_000_000_000, nanos=now % 1_000_000_000),
    )


class Load:
    """All sessions and creates of this process, and what they observed."""

    def __init__(self, arguments: argparse.Namespace) -> None:
        self.arguments = arguments
        self.counters = Counters()
        self.stopping = asyncio.Event()
        self.rng = random.Random(arguments.seed)
        south, west, north, east = arguments.box
        self.box = (south, west, north, east)
        # delivery id -> monotonic time the create was sent, and whether it is measured
        self.created: dict[str, tuple[float, bool]] = {}
        # delivery id -> monotonic time its first Offer reached a courier of ours
        self.offered: dict[str, float] = {}

    def point(self) -> tuple[float, float]:
        south, west, north, east = self.box
        return self.rng.uniform(south, north), self.rng.uniform(west, east)

    # -- sessions --------------------------------------------------------------------

    async def session(
        self, stub: courier_session_pb2_grpc.CourierSessionServiceStub, gate: asyncio.Semaphore
    ) -> None:
        """One courier: connect (again after a pause, as the app does, if the session
        ended before SessionStarted), go online, then send fixes until told to stop."""
        counters = self.counters
        courier_id = str(uuid.uuid4())
        latitude, longitude = self.point()
        online = False
        try:
            for attempt in range(1, START_ATTEMPTS + 1):
                # No request iterator: the session writes with call.write(). grpc-stubs
                # wrongly makes it mandatory (as services/simulator/courier_agent.py notes).
                call: SessionCall = stub.Connect(  # type: ignore[call-arg,assignment]
                    metadata=((ACCOUNT_ID_HEADER, courier_id), (ROLE_HEADER, COURIER_ROLE))
                )
                lock = asyncio.Lock()
                started, acked = asyncio.Event(), asyncio.Event()
                reader = asyncio.create_task(self._read(call, lock, started, acked))
                counters.opened += 1
                try:
                    try:
                        await self._start(call, lock, reader, started, acked, latitude, longitude)
                    except NotStarted as failure:
                        if attempt == START_ATTEMPTS or self.stopping.is_set():
                            raise
                        counters.start_retries += 1
                        counters.error(f"session, reconnecting: {failure}"[:300])
                        await asyncio.sleep(self.rng.uniform(*START_RETRY_PAUSE_SECONDS))
                        continue
                    counters.online += 1
                    gate.release()
                    online = True
                    await self._ping(call, lock, reader, latitude, longitude)
                    return
                finally:
                    reader.cancel()
                    call.cancel()
        except asyncio.CancelledError:
            raise
        except Exception as failure:  # counted and reported, never fatal
            if not self.stopping.is_set():
                counters.session_failures += 1
                counters.error(f"session: {failure!r}"[:300])
        finally:
            if not online:
                gate.release()

    async def _start(
        self,
        call: SessionCall,
        lock: asyncio.Lock,
        reader: asyncio.Task[str],
        started: asyncio.Event,
        acked: asyncio.Event,
        latitude: float,
        longitude: float,
    ) -> None:
        """Wait for SessionStarted, then GoOnline until it is acked."""
        opened = time.monotonic()
        waiting = asyncio.ensure_future(started.wait())
        await asyncio.wait({waiting, reader}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        waited_ms = int((time.monotonic() - opened) * 1000)
        self.counters.slowest_start_ms = max(self.counters.slowest_start_ms, waited_ms)
        if not started.is_set():
            raise NotStarted(f"the session ended before SessionStarted: {_ended(reader)}")
        go_online = courier_session_pb2.GoOnline(
            vehicle_type=courier_pb2.VEHICLE_TYPE_BICYCLE,
            location=_location(latitude, longitude),
        )
        async with lock:
            await call.write(Request(client_message_id=GO_ONLINE_ID, go_online=go_online))
        waiting = asyncio.ensure_future(acked.wait())
        await asyncio.wait(
            {waiting, reader}, timeout=ONLINE_TIMEOUT_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        waiting.cancel()
        if not acked.is_set():
            raise RuntimeError(f"GoOnline was not acked: {_ended(reader)}")

    async def _ping(
        self,
        call: SessionCall,
        lock: asyncio.Lock,
        reader: asyncio.Task[str],
        latitude: float,
        longitude: float,
    ) -> None:
        period, counters = self.arguments.ping_seconds, self.counters
        loop = asyncio.get_running_loop()
        due = loop.time() + self.rng.uniform(0, period)
        jitter = self.rng.uniform
        while not self.stopping.is_set():
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if reader.done():
                raise RuntimeError(f"the session ended: {_ended(reader)}")
            latitude += jitter(-0.0001, 0.0001)
            longitude += jitter(-0.0001, 0.0001)
            update = courier_session_pb2.LocationUpdate(locations=[_location(latitude, longitude)])
            async with lock:
                await call.write(Request(location_update=update))
            counters.sent += 1
            due += period
            now = loop.time()
            if due < now - period:  # fell behind: do not send the missed pings in a burst
                due = now

    async def _read(
        self, call: SessionCall, lock: asyncio.Lock, started: asyncio.Event, online: asyncio.Event
    ) -> str:
        """Handles fleet's messages until the stream ends; returns how it ended."""
        try:
            await self._handle(call, lock, started, online)
        except grpc.aio.AioRpcError as failure:
            return f"{failure.code().name} {failure.details()}"
        return "stream ended with OK"

    async def _handle(
        self, call: SessionCall, lock: asyncio.Lock, started: asyncio.Event, online: asyncio.Event
    ) -> None:
        counters, react = self.counters, self.arguments.react == "complete"
        async for response in call:
            kind = response.WhichOneof("message")
            if kind == "session_started":
                started.set()
            elif kind == "ack":
                message_id = response.ack.client_message_id
                if message_id == GO_ONLINE_ID:
                    online.set()
                elif react and message_id.startswith("pickup:"):
                    delivery_id = message_id.removeprefix("pickup:")
                    confirm = courier_session_pb2.ConfirmDropoff(delivery_id=delivery_id)
                    async with lock:
                        await call.write(
                            Request(
                                client_message_id=f"dropoff:{delivery_id}", confirm_dropoff=confirm
                            )
                        )
                elif message_id.startswith("dropoff:"):
                    counters.delivered += 1
            elif kind == "offer":
                offer = response.offer
                counters.offers += 1
                self.offered.setdefault(offer.delivery_id, time.monotonic())
                if react:
                    accept = courier_session_pb2.AcceptOffer(offer_id=offer.offer_id)
                    async with lock:
                        await call.write(
                            Request(
                                client_message_id=f"accept:{offer.offer_id}", accept_offer=accept
                            )
                        )
            elif kind == "assignment":
                counters.assignments += 1
                delivery_id = response.assignment.delivery_id
                if react and not response.assignment.picked_up:
                    pickup = courier_session_pb2.ConfirmPickup(delivery_id=delivery_id)
                    async with lock:
                        await call.write(
                            Request(
                                client_message_id=f"pickup:{delivery_id}", confirm_pickup=pickup
                            )
                        )
            elif kind == "offer_cancellation":
                counters.cancellations += 1
            elif kind == "error":
                counters.message_errors += 1
                counters.error(
                    f"MessageError {response.error.client_message_id}: "
                    f"{response.error.status.code} {response.error.status.message}"[:300]
                )
            elif kind == "session_closing":
                counters.closings += 1
                # Why fleet ended sessions (a slow consumer, draining) is what the run must say.
                reason = courier_session_pb2.SessionClosingReason.Name(
                    response.session_closing.reason
                )
                counters.error(f"SessionClosing {reason}")

    async def open_sessions(self) -> list[asyncio.Task[None]]:
        arguments, loop = self.arguments, asyncio.get_running_loop()
        channels = [
            grpc.aio.insecure_channel(arguments.fleet, options=CHANNEL_OPTIONS)
            for _ in range(max(1, math.ceil(arguments.sessions / arguments.streams_per_channel)))
        ]
        self._channels = channels
        stubs = [courier_session_pb2_grpc.CourierSessionServiceStub(c) for c in channels]
        gate = asyncio.Semaphore(arguments.pending)
        tasks: list[asyncio.Task[None]] = []
        begin = loop.time()
        for number in range(arguments.sessions):
            if self.stopping.is_set():
                break
            delay = begin + number / arguments.ramp - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await gate.acquire()
            stub = stubs[number // arguments.streams_per_channel]
            tasks.append(asyncio.create_task(self.session(stub, gate)))
        return tasks

    async def close_channels(self) -> None:
        for channel in getattr(self, "_channels", []):
            with contextlib.suppress(Exception):
                await channel.close(grace=None)

    # -- deliveries ------------------------------------------------------------------

    async def create_deliveries(self) -> None:
        """--warm-up seconds unmeasured, then --duration seconds measured, at --create-rate."""
        arguments, loop = self.arguments, asyncio.get_running_loop()
        channels = [
            grpc.aio.insecure_channel(arguments.orders, options=CHANNEL_OPTIONS) for _ in range(4)
        ]
        stubs: list[orders_pb2_grpc.OrdersServiceAsyncStub] = [
            orders_pb2_grpc.OrdersServiceStub(channel) for channel in channels
        ]
        merchant = account("merchant").metadata
        in_flight: set[asyncio.Task[None]] = set()
        total = int(arguments.create_rate * (arguments.warm_up + arguments.duration))
        measured_from = int(arguments.create_rate * arguments.warm_up)
        begin = loop.time()
        try:
            for number in range(total):
                if self.stopping.is_set():
                    return
                delay = begin + number / arguments.create_rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if number == measured_from:
                    emit("window", phase="start", **self.snapshot())
                if len(in_flight) >= MAX_CREATES_IN_FLIGHT:
                    self.counters.creates_failed += 1
                    continue
                task = asyncio.create_task(
                    self._create(stubs[number % len(stubs)], merchant, number >= measured_from)
                )
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            emit("window", phase="end", **self.snapshot())
            if in_flight:
                await asyncio.wait(in_flight, timeout=CREATE_TIMEOUT_SECONDS)
        finally:
            for channel in channels:
                await channel.close(grace=None)

    async def _create(
        self,
        stub: orders_pb2_grpc.OrdersServiceAsyncStub,
        merchant: Metadata,
        measured: bool,
    ) -> None:
        latitude, longitude = self.point()
        request = create_request(
            pickup=stop(latitude, longitude, "Bench pickup 1, 10115 Berlin"),
            dropoff=stop(latitude + 0.009, longitude, "Bench drop-off 2, 10115 Berlin"),
        )
        counters = self.counters
        counters.creates_sent += 1
        sent = time.monotonic()
        try:
            reply = await stub.CreateDelivery(
                request, metadata=merchant, timeout=CREATE_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as failure:
            counters.creates_failed += 1
            counters.error(f"CreateDelivery: {failure.code().name} {failure.details()}"[:300])
            return
        counters.creates_ok += 1
        self.created[reply.delivery.delivery_id] = (sent, measured)

    def latencies(self) -> tuple[list[float], int]:
        """create → offer seconds of the measured deliveries, and how many had no offer."""
        found, missing = [], 0
        for delivery_id, (sent, measured) in self.created.items():
            if not measured:
                continue
            offered = self.offered.get(delivery_id)
            if offered is None:
                missing += 1
            else:
                found.append(round(offered - sent, 6))
        return found, missing

    def snapshot(self) -> dict[str, Any]:
        values = asdict(self.counters)
        values.pop("errors")
        return values


async def _progress(load: Load, every: float) -> None:
    while True:
        emit("progress", errors=load.counters.errors, **load.snapshot())
        await asyncio.sleep(every)


async def _main(arguments: argparse.Namespace) -> int:
    load = Load(arguments)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, load.stopping.set)
    progress = asyncio.create_task(_progress(load, arguments.progress_seconds))
    tasks: list[asyncio.Task[None]] = []
    try:
        tasks = await load.open_sessions()
        while load.counters.online + load.counters.session_failures < arguments.sessions:
            if load.stopping.is_set():
                return 0
            await asyncio.sleep(0.1)
        emit("online", **load.snapshot())
        if arguments.create_rate > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(load.stopping.wait(), timeout=arguments.settle)
            await load.create_deliveries()
            # Let the offers of the last measured creates arrive.
            give_up = loop.time() + arguments.drain
            while loop.time() < give_up and not load.stopping.is_set():
                latencies, missing = load.latencies()
                if missing == 0:
                    break
                await asyncio.sleep(0.1)
            latencies, missing = load.latencies()
            emit(
                "result",
                latencies=latencies,
                missing=missing,
                errors=load.counters.errors,
                **load.snapshot(),
            )
        else:
            await load.stopping.wait()
            emit("result", errors=load.counters.errors, **load.snapshot())
        return 0
    finally:
        load.stopping.set()
        progress.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await load.close_channels()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.courier_load")
    parser.add_argument("--fleet", required=True, help="fleet's host:port")
    parser.add_argument("--orders", default="", help="orders' host:port (for --create-rate)")
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--ping-seconds", type=float, default=1.0)
    parser.add_argument("--streams-per-channel", type=int, default=100)
    parser.add_argument("--ramp", type=float, default=500.0, help="sessions opened per second")
    parser.add_argument("--pending", type=int, default=500, help="sessions not yet online, max")
    parser.add_argument("--react", choices=("none", "complete"), default="none")
    parser.add_argument("--create-rate", type=float, default=0.0, help="deliveries/s (0: none)")
    parser.add_argument("--warm-up", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--drain", type=float, default=10.0)
    parser.add_argument("--progress-seconds", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--box",
        type=float,
        nargs=4,
        default=DEFAULT_BOX,
        metavar=("SOUTH", "WEST", "NORTH", "EAST"),
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_main(_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
