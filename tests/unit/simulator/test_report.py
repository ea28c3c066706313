"""The live status line and the final statistics, from what agents observed."""

from __future__ import annotations

import json

from services.simulator.observations import Observations
from services.simulator.progress import FleetGauge, status_line
from services.simulator.report import summarize, table


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def observed_run() -> Observations:
    clock = Clock()
    observations = Observations(clock=clock)
    observations.delivery_created("d-1")
    clock.now += 1.5
    observations.offer_received("d-1")
    clock.now += 0.5
    observations.assignment_received("d-1")
    observations.picked_up()
    observations.delivered("d-1")
    observations.delivery_created("d-2")
    observations.create_failed("503")
    observations.create_failed("network")
    observations.counters.accepted, observations.counters.expired = 1, 2
    return observations


def test_the_summary_counts_deliveries_failures_offers_and_latencies() -> None:
    summary = summarize(observed_run(), elapsed=61.0)
    assert summary["deliveries"]["created"] == 2
    assert summary["deliveries"]["delivered"] == 1
    assert summary["deliveries"]["still_open"] == 1
    assert summary["failed_creates"] == {"503": 1, "network": 1}
    assert (summary["offers"]["accepted"], summary["offers"]["expired"]) == (1, 2)
    assert summary["latency_seconds"]["create_to_offer"] == {"count": 1, "p50": 1.5, "p99": 1.5}
    assert summary["latency_seconds"]["create_to_assigned"]["p99"] == 2.0
    json.dumps(summary)  # the --json output


def test_the_table_shows_every_section() -> None:
    text = table(summarize(observed_run(), elapsed=61.0))
    for expected in ("deliveries", "offers", "failed creates", "HTTP 503", "network",
                     "create → offer", "create → assigned", "1.50s"):  # fmt: skip
        assert expected in text


def test_the_status_line_shows_the_fleet_and_the_assignment_latency() -> None:
    line = status_line(12.0, FleetGauge(connected=3, online=2, busy=1), observed_run())
    assert "3 connected 2 online 1 busy" in line
    assert "created 2" in line
    assert "delivered 1" in line
    assert "errors 2" in line
    assert "create→assigned p50 2.00s" in line
