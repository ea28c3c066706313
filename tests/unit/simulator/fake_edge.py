"""A tiny REST edge in a thread (stdlib http.server) answering POST /v1/deliveries with
the shapes the real edge returns, and recording what it was sent."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class SentRequest:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeEdge:
    """Answers each POST with the next scripted status (200 once the script runs out)."""

    statuses: list[int] = field(default_factory=list)
    received: list[SentRequest] = field(default_factory=list)
    base_url: str = ""
    # The RetryInfo delay ("0.25s") a failure's google.rpc.Status carries, as the edge
    # transcodes it; none when unset.
    retry_delay: str | None = None

    def answer(self, request: SentRequest) -> tuple[int, dict[str, Any]]:
        self.received.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        if status != 200:
            details = []
            if self.retry_delay is not None:
                details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                "retryDelay": self.retry_delay})  # fmt: skip
            return status, {"code": 14, "message": "scripted failure", "details": details}
        if request.path == "/v1/accounts":
            return 200, {"account": {**request.body["account"], "accountId": "account-1"}}
        if request.path == "/v1/sessions":
            return 200, {"accessToken": f"token-{len(self.received)}", "tokenType": "Bearer",
                         "expireTime": "2099-01-01T00:00:00.123456789Z",
                         "account": {"accountId": "account-1"}}  # fmt: skip
        delivery = {**request.body, "deliveryId": str(uuid.uuid4()),
                    "status": "DELIVERY_STATUS_PENDING"}  # fmt: skip
        return 200, {"delivery": delivery}


def _handler(edge: FakeEdge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the edge

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"null")
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, answer = edge.answer(SentRequest(self.path, headers, body))
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            if status == 429:
                self.send_header("retry-after", "0")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


@contextmanager
def serving_edge(edge: FakeEdge) -> Iterator[FakeEdge]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(edge))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    edge.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield edge
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
