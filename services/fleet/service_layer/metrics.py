"""fleet's Prometheus metrics; dashboards and alerts query these exact names."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SESSIONS = Gauge("lastmile_fleet_sessions", "Live courier sessions on this replica.")
SESSION_CLOSES = Counter(
    "lastmile_fleet_session_closes",
    "Courier sessions ended, by reason (replaced, heartbeat_timeout, slow_consumer, "
    "draining, client_closed, error).",
    ["reason"],
)
LOCATION_UPDATES = Counter(
    "lastmile_fleet_location_updates", "Location fixes received from courier apps."
)
COURIERS = Gauge("lastmile_fleet_couriers", "Couriers this replica holds, by status.", ["status"])
LINK_CONNECTED = Gauge(
    "lastmile_fleet_link_connected", "1 while the Link to dispatch is up, 0 otherwise."
)
LINK_RECONNECTS = Counter(
    "lastmile_fleet_link_reconnects", "Times the Link to dispatch was dialled again."
)
QUEUE_DROPS = Counter(
    "lastmile_fleet_queue_drops",
    "Messages dropped or refused by a full queue, by kind (ack, offer, session_message, "
    "link_position, link_change, tracking_position).",
    ["kind"],
)

ACK_DROPS = QUEUE_DROPS.labels("ack")
OFFER_DROPS = QUEUE_DROPS.labels("offer")
SESSION_MESSAGE_DROPS = QUEUE_DROPS.labels("session_message")
TRACKING_POSITION_DROPS = QUEUE_DROPS.labels("tracking_position")
