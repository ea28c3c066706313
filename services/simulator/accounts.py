"""Simulated couriers' and customers' accounts: registered once (or reused), logged in
under the edge's strict log-in limit, and logged in again before the token expires."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import httpx

from services.simulator.http_retry import retry_after_seconds

log = logging.getLogger("lastmile.simulator.accounts")

# The same password for every simulated account, so a rerun logs into the same ones.
PASSWORD = "simulated account password 42"
EMAIL_DOMAIN = "simulator.lastmile.dev"
# Log in again this long before the token expires, so no call carries a stale one.
RENEW_MARGIN_SECONDS = 60.0
CALL_TIMEOUT_SECONDS = 15.0
MIN_LOGIN_WAIT_SECONDS = 0.5


class AccountError(Exception):
    """identity refused an account for a reason a retry will not fix."""


class TokenSource(Protocol):
    """Hands out a valid access token; `renew` forces a fresh log-in (after a 401)."""

    async def access_token(self, *, renew: bool = False) -> str: ...


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """One simulated account; the email is deterministic in role, seed and index."""

    role: str
    email: str
    display_name: str

    @classmethod
    def simulated(cls, role: str, index: int, seed: int) -> AccountSpec:
        kind = role.removeprefix("ROLE_").lower()
        return cls(role, f"sim-{kind}-{seed}-{index:05d}@{EMAIL_DOMAIN}", f"Sim {kind} {index}")


class LoginGate:
    """Shared by every account: few log-ins at a time, and after a 429 nobody tries
    again until the bucket has refilled."""

    def __init__(self, concurrency: int = 4) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._closed_until = 0.0

    async def __aenter__(self) -> None:
        await self._slots.acquire()
        wait = self._closed_until - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()

    def close_for(self, seconds: float) -> None:
        self._closed_until = max(self._closed_until, asyncio.get_running_loop().time() + seconds)


class Account(TokenSource):
    """A simulated account over the edge's REST API."""

    def __init__(self, spec: AccountSpec, client: httpx.AsyncClient, gate: LoginGate) -> None:
        self.spec = spec
        self.account_id = ""
        self._client, self._gate = client, gate
        self._token = ""
        self._expires_at = 0.0  # seconds since the epoch
        self._renewing = asyncio.Lock()

    async def register(self) -> None:
        """Create the account; one that already exists (409) is reused."""
        account = {"email": self.spec.email, "displayName": self.spec.display_name,
                   "role": self.spec.role}  # fmt: skip
        response = await self._client.post(
            "/v1/accounts", json={"account": account, "password": PASSWORD},
            timeout=CALL_TIMEOUT_SECONDS,
        )  # fmt: skip
        if response.status_code not in (200, 409):
            raise AccountError(f"registering {self.spec.email}: {_describe(response)}")

    async def access_token(self, *, renew: bool = False) -> str:
        async with self._renewing:
            now = datetime.now().timestamp()
            if renew or not self._token or self._expires_at - now < RENEW_MARGIN_SECONDS:
                await self._log_in()
            return self._token

    async def _log_in(self) -> None:
        credentials = {"email": self.spec.email, "password": PASSWORD}
        while True:
            async with self._gate:
                response = await self._client.post(
                    "/v1/sessions", json=credentials, timeout=CALL_TIMEOUT_SECONDS
                )
                if response.status_code != 429:
                    break
                # The edge's bucket refills a token at a time; "0 s" still means "not yet".
                wait = max(retry_after_seconds(response, default=5.0), MIN_LOGIN_WAIT_SECONDS)
                log.info("log-in rate limited; waiting %.0f s", wait)
                self._gate.close_for(wait)
        if response.status_code != 200:
            raise AccountError(f"logging in {self.spec.email}: {_describe(response)}")
        session = response.json()
        self._token = session["accessToken"]
        self._expires_at = datetime.fromisoformat(session["expireTime"]).timestamp()
        self.account_id = session.get("account", {}).get("accountId", "")


def _describe(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} {response.text[:300]}"
