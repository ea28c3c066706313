"""The deliveries this run created, and how long each took to be offered and assigned.

Latencies are measured in-process: the create response stamps each delivery id with the
local monotonic clock, and the first Offer or Assignment that any simulated courier sees
for that id closes the interval. An offer that overtakes the create response (dispatch
was faster than the HTTP reply) counts as zero.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass

from services.simulator.statistics import DEFAULT_SAMPLE_CAP, LatencySamples

# A delivery is about 100 bytes here; the cap bounds a load run of any length.
DEFAULT_OPEN_CAP = 200_000


@dataclass(slots=True)
class _Stamp:
    created_at: float
    offered: bool = False
    assigned: bool = False


class DeliveryLedger:
    """Open deliveries of this run, with the create→offer and create→assigned latencies."""

    def __init__(
        self,
        open_cap: int = DEFAULT_OPEN_CAP,
        sample_cap: int = DEFAULT_SAMPLE_CAP,
        rng: random.Random | None = None,
    ) -> None:
        self._open: OrderedDict[str, _Stamp] = OrderedDict()
        # Ids seen by couriers before their create response arrived: usually none.
        self._early: OrderedDict[str, _Stamp] = OrderedDict()
        self._open_cap = open_cap
        self.untracked = 0
        self.to_offer = LatencySamples(sample_cap, rng)
        self.to_assignment = LatencySamples(sample_cap, rng)

    @property
    def open_count(self) -> int:
        return len(self._open)

    def created(self, delivery_id: str, at: float) -> None:
        stamp = _Stamp(at)
        early = self._early.pop(delivery_id, None)
        if early is not None:
            self._close_early(stamp, early)
        self._open[delivery_id] = stamp
        if len(self._open) > self._open_cap:
            self._open.popitem(last=False)
            self.untracked += 1

    def offered(self, delivery_id: str, at: float) -> None:
        stamp = self._open.get(delivery_id)
        if stamp is None:
            self._early_stamp(delivery_id).offered = True
        elif not stamp.offered:
            stamp.offered = True
            self.to_offer.add(max(at - stamp.created_at, 0.0))

    def assigned(self, delivery_id: str, at: float) -> None:
        stamp = self._open.get(delivery_id)
        if stamp is None:
            self._early_stamp(delivery_id).assigned = True
        elif not stamp.assigned:
            stamp.assigned = True
            self.to_assignment.add(max(at - stamp.created_at, 0.0))

    def finished(self, delivery_id: str) -> None:
        """The delivery was delivered or cancelled: it is no longer open."""
        self._open.pop(delivery_id, None)

    def _early_stamp(self, delivery_id: str) -> _Stamp:
        # Deliveries of earlier runs (reused accounts) land here too, hence the bound.
        if delivery_id not in self._early and len(self._early) >= max(self._open_cap // 10, 1):
            self._early.popitem(last=False)
        # The creation time is not known yet; only the flags matter to `created`.
        return self._early.setdefault(delivery_id, _Stamp(0.0))

    def _close_early(self, stamp: _Stamp, early: _Stamp) -> None:
        if early.offered:
            stamp.offered = True
            self.to_offer.add(0.0)
        if early.assigned:
            stamp.assigned = True
            self.to_assignment.add(0.0)
