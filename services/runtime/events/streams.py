"""The JetStream streams Lastmile publishes into, created idempotently by producers and
consumers alike so that start order never matters."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

log = logging.getLogger("lastmile.events")

# A re-publish after an outage must still be recognised as a duplicate: the window is
# generous, and consumers' inboxes catch anything older.
DUPLICATE_WINDOW_SECONDS = 15 * 60
RETENTION_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class StreamSpec:
    """One stream: its name and the subjects it captures."""

    name: str
    subjects: tuple[str, ...]
    replicas: int = 1

    def config(self) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            subjects=list(self.subjects),
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=RETENTION_SECONDS,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            num_replicas=self.replicas,
        )


DELIVERY_EVENTS = StreamSpec("LASTMILE_DELIVERY", ("lastmile.delivery.>",))
COURIER_EVENTS = StreamSpec("LASTMILE_COURIER", ("lastmile.courier.>",))
DEAD_LETTERS = StreamSpec("LASTMILE_DEADLETTER", ("lastmile.deadletter.>",))
ALL_STREAMS = (DELIVERY_EVENTS, COURIER_EVENTS, DEAD_LETTERS)


def stream_for(subject: str) -> StreamSpec:
    for spec in ALL_STREAMS:
        if any(subject.startswith(pattern.removesuffix(">")) for pattern in spec.subjects):
            return spec
    raise ValueError(f"no Lastmile stream captures subject {subject!r}")


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> None:
    """Create the stream, or bring an existing one to this configuration."""
    try:
        await js.add_stream(config=spec.config())
    except BadRequestError:
        await js.update_stream(config=spec.config())
