"""One simulated customer: creates deliveries over REST at its share of the total rate,
with Poisson arrivals, through one keep-alive HTTP client."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable

import httpx

from services.simulator.accounts import AccountError, TokenSource
from services.simulator.city import BoundingBox
from services.simulator.delivery_requests import random_delivery
from services.simulator.http_retry import retry_after_seconds
from services.simulator.observations import Observations

log = logging.getLogger("lastmile.simulator.customer")

CREATE_TIMEOUT_SECONDS = 15.0
# How long, in waits between attempts, one create keeps retrying: longer than a service's
# restart or a database blip, so that a 503 asking to retry (RetryInfo) is retried through.
RETRY_BUDGET_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 5.0
# Statuses worth a retry with the same idempotency key: rate limited, or not processed.
_RETRYABLE = frozenset({429, 502, 503, 504})


class CustomerAgent:
    """Creates deliveries until the deadline; arrivals are open-loop (a slow answer does
    not slow the next arrival) but at most `max_in_flight` creates wait at once."""

    def __init__(
        self,
        name: str,
        tokens: TokenSource,
        client: httpx.AsyncClient,
        box: BoundingBox,
        rate_per_second: float,
        observations: Observations,
        rng: random.Random,
        max_in_flight: int = 64,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self._tokens, self._client, self._box = tokens, client, box
        self._rate, self._observations, self._rng = rate_per_second, observations, rng
        self._sleep = sleep
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._creating: set[asyncio.Task[None]] = set()

    async def run(self, until: float, stopping: asyncio.Event) -> None:
        """Create deliveries until the monotonic time `until`; wait for those in flight."""
        loop = asyncio.get_running_loop()
        try:
            while not stopping.is_set():
                pause = self._rng.expovariate(self._rate)
                if loop.time() + pause >= until:
                    break
                try:
                    await asyncio.wait_for(stopping.wait(), timeout=pause)
                except TimeoutError:
                    await self._in_flight.acquire()
                    task = asyncio.create_task(self._create_one())
                    self._creating.add(task)
                    task.add_done_callback(self._creating.discard)
        finally:
            if self._creating:
                await asyncio.wait(
                    self._creating, timeout=CREATE_TIMEOUT_SECONDS * 2 + RETRY_BUDGET_SECONDS
                )

    async def _create_one(self) -> None:
        try:
            await self.create_delivery()
        finally:
            self._in_flight.release()

    async def create_delivery(self) -> None:
        """POST one delivery; retries reuse the request id as the Idempotency-Key, so a
        retry never creates a second delivery. A retryable answer is retried after the wait
        it asks for (Retry-After, RetryInfo), else with exponential backoff, until the waits
        would pass RETRY_BUDGET_SECONDS."""
        body, request_id = random_delivery(self._box, self.name, self._rng), str(uuid.uuid4())
        renew, failure, waited, attempt = False, "network", 0.0, 0
        while True:
            backoff = min(0.5 * 2**attempt, MAX_BACKOFF_SECONDS)
            attempt += 1
            try:
                token = await self._tokens.access_token(renew=renew)
                response = await self._client.post(
                    "/v1/deliveries", json=body, timeout=CREATE_TIMEOUT_SECONDS,
                    headers={"authorization": f"Bearer {token}", "idempotency-key": request_id},
                )  # fmt: skip
            except (httpx.TransportError, AccountError) as error:
                failure = "network" if isinstance(error, httpx.TransportError) else "log-in"
                wait = backoff
            else:
                if response.status_code == 200:
                    delivery_id = response.json()["delivery"]["deliveryId"]
                    self._observations.delivery_created(delivery_id)
                    return
                failure, renew = str(response.status_code), response.status_code == 401
                if response.status_code not in _RETRYABLE and not (renew and attempt == 1):
                    break
                wait = retry_after_seconds(response, default=backoff)
            if waited + wait > RETRY_BUDGET_SECONDS:
                break
            waited += wait
            self._observations.create_retried()
            await self._sleep(wait)
        log.debug("%s: creating a delivery failed: %s", self.name, failure)
        self._observations.create_failed(failure)
