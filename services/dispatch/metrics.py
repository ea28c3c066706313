"""dispatch's Prometheus metrics; dashboards and alerts query these exact names."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

QUEUE_LENGTH = Gauge(
    "lastmile_dispatch_queue_length", "Deliveries waiting for a courier, in any queue state."
)
QUEUE_OLDEST_AGE = Gauge(
    "lastmile_dispatch_queue_oldest_age_seconds",
    "How long the oldest delivery in the queue has waited (0 when the queue is empty).",
)
OFFERS = Counter(
    "lastmile_dispatch_offers_total",
    "Offers by outcome (offered, accepted, declined, timed_out, undeliverable, cancelled, "
    "assigned, assignment_failed).",
    ["outcome"],
)
CREATE_TO_OFFER = Histogram(
    "lastmile_dispatch_create_to_offer_seconds",
    "From a delivery's create_time to its first offer being sent to fleet.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5, 10, 30, 60),
)
POSITION_UPDATES = Counter(
    "lastmile_dispatch_position_updates_total", "Courier positions applied to the index."
)
POSITION_INDEX_LATENCY = Histogram(
    "lastmile_dispatch_position_index_latency_seconds",
    "From a position's recorded_time (device clock) to its being indexed.",
    # Fine around the 100 ms goal (p99 update -> index), coarse beyond.
    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10),
)
IS_LEADER = Gauge("lastmile_dispatch_is_leader", "1 while this replica is the active matcher.")
FLEET_LINKS = Gauge("lastmile_dispatch_fleet_links", "Open Links from fleet replicas.")
COURIERS = Gauge(
    "lastmile_dispatch_couriers", "Couriers in the matcher's index by status.", ["status"]
)
