"""Keeps a current signing key and the published JWKS document up to date, in the
background, so that rotations by age or by another replica reach the admin port."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.identity.entrypoints.jwks_document import JwksDocument
from services.identity.service_layer.signing_keys import SigningKeyHandlers

log = logging.getLogger("lastmile.identity.keys")


class KeyMaintenance:
    """Runs once at start-up (failing it), then every `interval` seconds (logging failures)."""

    def __init__(self, keys: SigningKeyHandlers, document: JwksDocument, interval: float) -> None:
        self._keys = keys
        self._document = document
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> None:
        active = await self._keys.ensure_current_key()
        published = await self._keys.published_keys()
        self._document.publish(published)
        log.debug("jwks refreshed", extra={"active_kid": active.kid, "keys": len(published)})

    async def start(self) -> None:
        await self.run_once()
        self._task = asyncio.create_task(self._refresh_forever(), name="identity-key-maintenance")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once()
            except Exception:
                # The previous document stays served; the next round retries.
                log.exception("signing key maintenance failed")
