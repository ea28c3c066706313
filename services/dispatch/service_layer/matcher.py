"""The matcher: while this replica leads it holds the region's shell; as a standby it
holds none and refuses fleet, ops and events alike."""

from __future__ import annotations

import logging

from services.dispatch import metrics
from services.dispatch.service_layer.link_sessions import LinkRegistry
from services.dispatch.service_layer.ports import (
    Clock,
    DeliveryFeed,
    LeaderLease,
    NotLeader,
    Orders,
    ServingStatus,
)
from services.dispatch.service_layer.region_shell import MatchingPolicy, RegionShell
from services.runtime.errors import Unavailable

log = logging.getLogger("lastmile.dispatch.matcher")


class Matcher:
    """Starts a shell when elected (load the queue, consume events, serve) and ends it
    when deposed (stop consuming, end the Links, forget everything in memory)."""

    def __init__(
        self,
        *,
        replica_id: str,
        links: LinkRegistry,
        orders: Orders,
        feed: DeliveryFeed,
        health: ServingStatus,
        policy: MatchingPolicy,
        clock: Clock,
    ) -> None:
        self.replica_id = replica_id
        self.links = links
        self._orders, self._feed, self._health = orders, feed, health
        self._policy, self._clock = policy, clock
        self._shell: RegionShell | None = None

    def shell(self) -> RegionShell:
        """The shell of the current term; NotLeader (UNAVAILABLE) on a standby."""
        if self._shell is None or not self._shell.active:
            raise NotLeader()
        return self._shell

    async def elected(self, lease: LeaderLease) -> None:
        shell = RegionShell(
            lease=lease, links=self.links, orders=self._orders, policy=self._policy,
            clock=self._clock,
        )  # fmt: skip
        stored = await lease.load()
        shell.start(stored)
        self._shell = shell
        self._feed.start()
        await self._health.set_serving(True)
        metrics.IS_LEADER.set(1)
        shell.publish_gauges()
        log.info("leading: the queue is taken over", extra={"queued": len(stored)})

    async def deposed(self) -> None:
        await self._health.set_serving(False)
        metrics.IS_LEADER.set(0)
        # Events in flight finish against the shell; later ones wait in the stream.
        await self._feed.stop()
        shell, self._shell = self._shell, None
        self.links.end_all(Unavailable("this dispatch replica stopped leading; reconnect"))
        if shell is not None:
            await shell.end()
            log.info("standing by: no longer the active matcher")
        metrics.QUEUE_LENGTH.set(0)
        metrics.QUEUE_OLDEST_AGE.set(0)
