"""Customers creating deliveries over REST through the edge, each create with its own
Idempotency-Key, retried with the same key on 503 and on connection errors, as a client
that follows the API's contract does; every answer is tallied."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.simulator.http_retry import retry_after_seconds
from tests.e2e.rest import delivery_request

RETRYABLE = frozenset({503})
CREATE_TIMEOUT_SECONDS = 15.0
GIVE_UP_SECONDS = 120.0
BACKOFF_SECONDS = (0.2, 0.5, 1.0, 2.0)
CONNECTION_ERROR = "connection"


@dataclass
class CreateTally:
    """Every answer the creates got, and the delivery each key ended with."""

    answers: Counter[str] = field(default_factory=Counter)  # "200", "503", "connection"
    delivery_of: dict[str, str] = field(default_factory=dict)  # idempotency key -> id
    failed: dict[str, str] = field(default_factory=dict)  # key -> the answer that ended it
    retry_info_503: int = 0  # 503s that carried a google.rpc.RetryInfo

    @property
    def server_errors(self) -> dict[str, int]:
        return {status: n for status, n in self.answers.items() if status.startswith("5")}


def edge_client(base: str, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base, limits=limits, timeout=CREATE_TIMEOUT_SECONDS)


async def create_keyed(
    client: httpx.AsyncClient,
    token: str,
    keys: Iterable[str],
    tally: CreateTally,
    body: dict[str, Any] | None = None,
) -> None:
    """Create one delivery per key, all at once; each key is retried until it gets its 200,
    a final answer, or GIVE_UP_SECONDS pass."""
    request = body or delivery_request()
    await asyncio.gather(*(_create(client, token, key, request, tally) for key in keys))


async def _create(
    client: httpx.AsyncClient, token: str, key: str, body: dict[str, Any], tally: CreateTally
) -> None:
    give_up = time.monotonic() + GIVE_UP_SECONDS
    headers = {"authorization": f"Bearer {token}", "idempotency-key": key}
    for attempt in itertools.count():
        try:
            response = await client.post("/v1/deliveries", json=body, headers=headers)
        except httpx.TransportError:
            answer, wait = CONNECTION_ERROR, _backoff(attempt)
        else:
            answer = str(response.status_code)
            if response.status_code == 200:
                tally.answers[answer] += 1
                tally.delivery_of[key] = response.json()["delivery"]["deliveryId"]
                return
            wait = retry_after_seconds(response, default=_backoff(attempt))
            if response.status_code == 503 and has_retry_info(response):
                tally.retry_info_503 += 1
        tally.answers[answer] += 1
        retryable = answer == CONNECTION_ERROR or int(answer) in RETRYABLE
        if not retryable or time.monotonic() + wait > give_up:
            tally.failed[key] = answer
            return
        await asyncio.sleep(wait)


def _backoff(attempt: int) -> float:
    return BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]


def has_retry_info(response: httpx.Response) -> bool:
    """Whether the JSON status body carries a google.rpc.RetryInfo detail."""
    try:
        details = response.json().get("details", [])
    except ValueError:
        return False
    return any(str(detail.get("@type", "")).endswith("RetryInfo") for detail in details)


async def listed_deliveries(client: httpx.AsyncClient, token: str) -> list[str]:
    """Every delivery id the customer's list shows, across all pages."""
    ids: list[str] = []
    page_token = ""
    while True:
        response = await client.get(
            "/v1/deliveries",
            params={"pageSize": 100, **({"pageToken": page_token} if page_token else {})},
            headers={"authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [delivery["deliveryId"] for delivery in page.get("deliveries", [])]
        page_token = page.get("nextPageToken", "")
        if not page_token:
            return ids
