"""One simulated courier for the whole run: keeps a session with fleet open through the
edge, reconnecting as fleet asks or with backoff, and does its errands."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc

from lastmile.fleet.v1 import courier_session_pb2_grpc
from services.simulator.accounts import AccountError, TokenSource
from services.simulator.courier_session import CourierSession, SessionEnd
from services.simulator.courier_state import CourierSettings, CourierState
from services.simulator.observations import Observations
from services.simulator.reconnect import Backoff

log = logging.getLogger("lastmile.simulator.courier")


class CourierAgent:
    """A courier app: log in, connect, work, and reconnect until the run stops."""

    def __init__(
        self,
        name: str,
        stub: courier_session_pb2_grpc.CourierSessionServiceAsyncStub,
        tokens: TokenSource,
        state: CourierState,
        settings: CourierSettings,
        observations: Observations,
    ) -> None:
        self.name, self.state = name, state
        self._stub, self._tokens = stub, tokens
        self._settings, self._observations = settings, observations
        self._backoff = Backoff(rng=state.rng)
        self._renew_token = False

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                token = await self._tokens.access_token(renew=self._renew_token)
            except (AccountError, OSError) as failure:
                self._observations.stream_broken(f"log-in failed: {failure}")
                await _pause(self._backoff.next(), stopping)
                continue
            self._renew_token = False
            delay = await self._one_session(token, stopping)
            if delay is None:
                return
            await _pause(delay, stopping)
            if not stopping.is_set():
                self._observations.counters.reconnects += 1

    async def _one_session(self, token: str, stopping: asyncio.Event) -> float | None:
        """Run one session; the delay before the next, or None to stop for good."""
        # No request iterator: the session writes with call.write(). grpc-stubs wrongly
        # makes the iterator mandatory.
        call = self._stub.Connect(metadata=(("authorization", f"Bearer {token}"),))  # type: ignore[call-arg]
        try:
            end = await CourierSession(call, self.state, self._settings, self._observations).run(
                stopping
            )
        except grpc.aio.AioRpcError as failure:
            return self._after_failure(failure)
        finally:
            call.cancel()
            self.state.connected = self.state.online = False
        return self._after_end(end)

    def _after_end(self, end: SessionEnd) -> float | None:
        if end.started:
            self._backoff.reset()
        if end.replaced:
            log.warning("%s: a newer session replaced this one; not reconnecting", self.name)
            return None
        if end.closing_reason:
            log.info("%s: session closing (%s)", self.name, end.closing_reason)
        if end.reconnect_after is not None:
            return end.reconnect_after
        return self._backoff.next()

    def _after_failure(self, failure: grpc.aio.AioRpcError) -> float | None:
        code = failure.code()
        if code is grpc.StatusCode.PERMISSION_DENIED:
            log.error("%s: fleet refused the session: %s", self.name, failure.details())
            return None
        if code is grpc.StatusCode.UNAUTHENTICATED:
            self._renew_token = True  # the token expired during a long session
        self._observations.stream_broken(f"{code.name}: {failure.details()}")
        log.debug("%s: stream broke: %s %s", self.name, code.name, failure.details())
        return self._backoff.next()


async def _pause(seconds: float, stopping: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
