"""pricing's public quote keys as orders holds them: fetched with ListQuoteKeys over the
pricing channel, cached, refreshed within the set's max age, and refreshed early on a kid
orders does not know. Early refreshes are rate-limited and shared by concurrent callers, so
quote ids with forged kids cannot turn into a storm of calls on pricing.

Availability over freshness: while pricing cannot be reached, the last set it published
stays in use, so quotes keep being honoured; only a kid outside it cannot be decided then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from types import MappingProxyType

import grpc
import jwt

from lastmile.pricing.v1 import pricing_pb2, pricing_pb2_grpc
from services.contracts.quote_token import ALGORITHM
from services.runtime.errors import Unavailable

LIST_QUOTE_KEYS = "/lastmile.pricing.v1.PricingInternalService/ListQuoteKeys"
_RETRY_AFTER = timedelta(seconds=1)

log = logging.getLogger(__name__)


class PricingQuoteKeys:
    """The published keys by kid. `start` begins the periodic refresh; `stop` ends it."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        deadline_seconds: float,
        refresh_seconds: float = 300.0,
        min_refresh_seconds: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stub = pricing_pb2_grpc.PricingInternalServiceStub(channel)
        self._deadline = deadline_seconds
        # pricing's max age shortens this; orders never waits longer between refreshes.
        self._refresh_seconds = refresh_seconds
        self._min_refresh_seconds = min_refresh_seconds
        self._monotonic = monotonic
        self._keys: Mapping[str, jwt.PyJWK] = MappingProxyType({})
        self._max_age = refresh_seconds
        self._known = False  # whether any set was ever fetched
        self._last_attempt: float | None = None
        self._last_attempt_failed = False
        self._in_flight: asyncio.Future[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The key named `kid`, or None if pricing's current set does not hold it.
        Unavailable if orders holds no set and cannot fetch one, or if `kid` is new to it
        and the set could not be refreshed, so a quote is never refused for pricing's outage."""
        known = self._keys.get(kid)
        if known is not None:
            return known
        if self._may_refresh_early():
            await self.refresh()
            known = self._keys.get(kid)
            if known is not None:
                return known
        if not self._known or self._last_attempt_failed:
            raise Unavailable(
                "pricing's quote keys could not be fetched to check this quote; retry with "
                "the same idempotency key",
                retry_after=_RETRY_AFTER,
            )
        return None

    async def refresh(self) -> None:
        """Fetch the set now; concurrent callers wait for the same call. A failure keeps
        the set held so far and is remembered, not raised."""
        if self._in_flight is None:
            self._in_flight = asyncio.ensure_future(self._fetch())
        in_flight = self._in_flight
        try:
            await asyncio.shield(in_flight)
        finally:
            if self._in_flight is in_flight and in_flight.done():
                self._in_flight = None

    async def start(self) -> None:
        self._stopping.clear()
        self._refresher = asyncio.create_task(self._refresh_periodically(), name="quote-keys")

    async def stop(self) -> None:
        self._stopping.set()
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None

    def _may_refresh_early(self) -> bool:
        if self._in_flight is not None:
            return True  # join it: it costs pricing nothing more
        if self._last_attempt is None:
            return True
        return self._monotonic() - self._last_attempt >= self._min_refresh_seconds

    async def _fetch(self) -> None:
        self._last_attempt = self._monotonic()
        try:
            reply = await self._stub.ListQuoteKeys(
                pricing_pb2.ListQuoteKeysRequest(), timeout=self._deadline
            )
            keys = _published_keys(reply)
        except (grpc.aio.AioRpcError, jwt.PyJWKError, jwt.InvalidKeyError) as failure:
            if not self._last_attempt_failed:
                # pricing's outage, not orders' fault (as a failed CreateQuote is): logged
                # once when it starts, at info, like the runtime's background work.
                log.info(
                    "cannot fetch pricing's quote keys; keeping the %d held: %r",
                    len(self._keys), failure,
                )  # fmt: skip
            self._last_attempt_failed = True
            return
        if self._last_attempt_failed and self._known:
            log.info("fetched pricing's quote keys again")
        self._keys = keys
        self._max_age = reply.max_age.ToTimedelta().total_seconds() or self._refresh_seconds
        self._known = True
        self._last_attempt_failed = False

    async def _refresh_periodically(self) -> None:
        while not self._stopping.is_set():
            await self.refresh()
            if self._last_attempt_failed:
                pause = self._min_refresh_seconds
            else:
                pause = min(self._refresh_seconds, self._max_age)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=pause)


def _published_keys(reply: pricing_pb2.ListQuoteKeysResponse) -> Mapping[str, jwt.PyJWK]:
    keys = {}
    for message in reply.keys:
        if message.alg != ALGORITHM:
            continue  # a key for an algorithm this orders does not verify
        jwk = {"kty": message.kty, "crv": message.crv, "x": message.x, "kid": message.kid}
        keys[message.kid] = jwt.PyJWK(jwk, algorithm=ALGORITHM)
    return MappingProxyType(keys)
