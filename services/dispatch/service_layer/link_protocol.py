"""The order fleet keeps on every Link: hello, then the snapshot's chunks, then changes,
positions and answers. Anything else ends the Link with INVALID_ARGUMENT. (What a single
message must hold, such as hello's fleet_replica_id, is the contract's rule, checked by
the runtime before the message gets here.)"""

from __future__ import annotations

from enum import Enum

from services.dispatch.domain.couriers import Courier
from services.dispatch.domain.fleet_reports import SnapshotChunk
from services.runtime.errors import FieldViolation, InvalidArgument


class LinkProtocolViolation(InvalidArgument):
    """fleet broke the Link's protocol; the message says how."""

    def __init__(self, what: str) -> None:
        super().__init__(
            [FieldViolation("message", what)], message=f"Link protocol violation: {what}"
        )


class _Stage(Enum):
    HELLO = "hello"
    SNAPSHOT = "snapshot"
    LIVE = "live"


class LinkProtocol:
    """Checks each message's place in the Link and assembles the snapshot's chunks."""

    def __init__(self) -> None:
        self._stage = _Stage.HELLO
        self._snapshot_id = ""
        self._couriers: list[Courier] = []

    def hello(self, fleet_replica_id: str) -> None:
        if self._stage is not _Stage.HELLO:
            raise LinkProtocolViolation("hello may only be the first message of a Link")
        self._stage = _Stage.SNAPSHOT

    def snapshot(self, chunk: SnapshotChunk) -> list[Courier] | None:
        """The whole snapshot once its last chunk arrived; None before."""
        self._require_hello("snapshot")
        if self._stage is _Stage.LIVE:
            raise LinkProtocolViolation(
                "a snapshot may only follow hello; open a new Link to resnapshot"
            )
        if self._snapshot_id and chunk.snapshot_id != self._snapshot_id:
            raise LinkProtocolViolation(
                f"snapshot chunk of {chunk.snapshot_id!r} while {self._snapshot_id!r} is unfinished"
            )
        self._snapshot_id = chunk.snapshot_id
        self._couriers.extend(chunk.couriers)
        if not chunk.last_chunk:
            return None
        couriers, self._couriers = self._couriers, []
        self._stage = _Stage.LIVE
        return couriers

    def live(self, what: str) -> None:
        """`what` (a change, positions, an answer) may flow only after the snapshot."""
        self._require_hello(what)
        if self._stage is _Stage.SNAPSHOT:
            raise LinkProtocolViolation(f"{what} before the snapshot finished (last_chunk)")

    def _require_hello(self, what: str) -> None:
        if self._stage is _Stage.HELLO:
            raise LinkProtocolViolation(f"{what} before hello; a Link starts with hello")
