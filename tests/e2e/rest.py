"""REST through the edge for end-to-end tests: JSON calls, accounts, deliveries, SSE."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

PASSWORD = "a long enough password 42"
OPS_EMAIL = "ops@lastmile.dev"


def call(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    request = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def log_in(base: str, email: str, password: str = PASSWORD) -> tuple[str, str]:
    """The access token and account id of an existing account."""
    status, session = call(base, "POST", "/v1/sessions", {"email": email, "password": password})
    assert status == 200, session
    status, me = call(base, "GET", "/v1/me", token=session["accessToken"])
    assert status == 200, me
    return session["accessToken"], me["account"]["accountId"]


def sign_up(base: str, email: str, role: str) -> str:
    status, body = call(base, "POST", "/v1/accounts", {
        "account": {"email": email, "displayName": email.split("@")[0], "role": role},
        "password": PASSWORD,
    })  # fmt: skip
    assert status == 200, body
    token, _ = log_in(base, email)
    return token


def point(latitude: float, longitude: float) -> dict[str, float]:
    return {"latitude": latitude, "longitude": longitude}


def delivery_request(
    weight: int = 1200,
    pickup: dict[str, float] | None = None,
    dropoff: dict[str, float] | None = None,
) -> dict[str, Any]:
    """A small parcel across Berlin-Mitte, unless other points are given."""
    return {
        "pickup": {"address": "Alexanderplatz 1",
                   "point": pickup or point(52.5219, 13.4132),
                   "contact": {"name": "Shop", "phone": "+4930123456"}},
        "dropoff": {"address": "Torstrasse 100",
                    "point": dropoff or point(52.5290, 13.4010),
                    "contact": {"name": "Ann", "phone": "+4930654321"}},
        "parcel": {"size": "PARCEL_SIZE_SMALL", "weightGrams": weight},
        "serviceLevel": "SERVICE_LEVEL_STANDARD",
    }  # fmt: skip


def open_watch(port: int, delivery_id: str, token: str) -> http.client.HTTPConnection:
    """Start watching a delivery over SSE; read the answer with `sse_events`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(
        "GET", f"/v1/deliveries/{delivery_id}:watch",
        headers={"authorization": f"Bearer {token}", "accept": "text/event-stream"},
    )  # fmt: skip
    return connection


def sse_events(response: http.client.HTTPResponse) -> Iterator[dict[str, Any]]:
    """Each `data:` line of a Server-Sent Events stream, parsed as JSON."""
    for raw in response:
        line = raw.decode().strip()
        if line.startswith("data:"):
            event: dict[str, Any] = json.loads(line.removeprefix("data:"))
            yield event
