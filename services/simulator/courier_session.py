"""One session of a simulated courier: the bidirectional stream with fleet, from
SessionStarted to its end. Only I/O lives here; the courier's reactions and routine
decide what to send."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import grpc

from lastmile.fleet.v1 import courier_session_pb2
from services.simulator.courier_reactions import CourierReactions
from services.simulator.courier_routine import CourierRoutine
from services.simulator.courier_state import CourierSettings, CourierState, SessionState
from services.simulator.observations import Observations

SessionCall = grpc.aio.StreamStreamCall[
    courier_session_pb2.ConnectRequest, courier_session_pb2.ConnectResponse
]
# How long a stopping courier waits for fleet to acknowledge GoOffline and close.
SIGN_OFF_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class SessionEnd:
    """How a session ended: whether it had started, and what fleet asked for."""

    started: bool
    closing_reason: str = ""
    reconnect_after: float | None = None

    @property
    def replaced(self) -> bool:
        return self.closing_reason == "REPLACED"


class CourierSession:
    """Runs one Connect stream: a reader task applies fleet's messages, the courier's
    own task ticks the routine and writes what is due (the only writer)."""

    def __init__(
        self,
        call: SessionCall,
        state: CourierState,
        settings: CourierSettings,
        observations: Observations,
    ) -> None:
        self._call, self._settings, self._clock = call, settings, observations.clock
        self.session = SessionState()
        self._reactions = CourierReactions(state, self.session, settings, observations)
        self._routine = CourierRoutine(state, self.session, settings, observations)

    async def run(self, stopping: asyncio.Event) -> SessionEnd:
        """Until the stream ends or `stopping` is set; a broken stream raises AioRpcError
        unless fleet announced the end with SessionClosing."""
        reader = asyncio.create_task(self._read())
        try:
            self._routine.begin(self._clock())
            while not reader.done() and not stopping.is_set():
                await asyncio.sleep(self._settings.tick_seconds)
                if self.session.started and not reader.done():
                    await self._send(self._routine.due(self._clock()))
            if stopping.is_set() and not reader.done():
                await self._sign_off(reader)
            else:
                await reader
        except grpc.aio.AioRpcError:
            if not self.session.closing_reason and not stopping.is_set():
                raise
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await reader
        session = self.session
        return SessionEnd(session.started, session.closing_reason, session.reconnect_after)

    async def _read(self) -> None:
        async for response in self._call:
            self._reactions.handle(response)

    async def _send(self, requests: list[courier_session_pb2.ConnectRequest]) -> None:
        for request in requests:
            try:
                await self._call.write(request)
            except asyncio.InvalidStateError:
                return  # the stream has ended; the reader reports how

    async def _sign_off(self, reader: asyncio.Task[None]) -> None:
        """GoOffline if idle, then half-close: fleet answers, then ends the stream."""
        farewell = self._routine.sign_off()
        if farewell is not None:
            await self._send([farewell])
        with contextlib.suppress(asyncio.InvalidStateError, grpc.aio.AioRpcError):
            await self._call.done_writing()
        with contextlib.suppress(TimeoutError, grpc.aio.AioRpcError):
            await asyncio.wait_for(asyncio.shield(reader), SIGN_OFF_SECONDS)
        self._call.cancel()
