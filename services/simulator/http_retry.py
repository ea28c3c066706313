"""How long an HTTP answer asks us to wait before trying again."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

# Headers in order of precedence; the edge's local rate limit sends x-ratelimit-reset.
_WAIT_HEADERS = ("retry-after", "x-ratelimit-reset")


def retry_after_seconds(response: httpx.Response, default: float) -> float:
    """Retry-After or X-RateLimit-Reset (in seconds), else a google.rpc.RetryInfo in a
    JSON status body (identity's ACCOUNT_LOCKED), else `default`."""
    for header in _WAIT_HEADERS:
        with contextlib.suppress(KeyError, ValueError):
            return max(float(response.headers[header]), 0.0)
    with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
        body: Any = response.json()
        for detail in body.get("details", []):
            if str(detail.get("@type", "")).endswith("RetryInfo"):
                return max(float(str(detail["retryDelay"]).removesuffix("s")), 0.0)
    return default
