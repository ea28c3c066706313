"""The final statistics of a run: a JSON-ready summary and the table printed from it."""

from __future__ import annotations

from typing import Any

from services.simulator.observations import Observations
from services.simulator.progress import seconds
from services.simulator.statistics import LatencySummary


def _latency(summary: LatencySummary) -> dict[str, Any]:
    return {"count": summary.count, "p50": summary.p50, "p99": summary.p99}


def summarize(observations: Observations, elapsed: float) -> dict[str, Any]:
    """Everything the run measured; latencies in seconds (nearest-rank percentiles)."""
    counters, ledger = observations.counters, observations.ledger
    return {
        "elapsed_seconds": round(elapsed, 3),
        "deliveries": {
            "created": counters.created,
            "offered": counters.offered,
            "assigned": counters.assigned,
            "picked_up": counters.picked_up,
            "delivered": counters.delivered,
            "cancelled": counters.cancelled,
            "still_open": ledger.open_count,
        },
        "failed_creates": dict(sorted(counters.failed_creates.items())),
        "retries": {
            "creates": counters.create_retries,
            "confirmations": counters.confirmation_retries,
        },
        "offers": {
            "accepted": counters.accepted,
            "declined": counters.declined,
            "expired": counters.expired,
            "not_assigned": counters.not_assigned,
            "withdrawn": counters.withdrawn,
        },
        "latency_seconds": {
            "create_to_offer": _latency(ledger.to_offer.summary()),
            "create_to_assigned": _latency(ledger.to_assignment.summary()),
        },
        "sessions": {
            "started": observations.sessions_started,
            "reconnects": counters.reconnects,
            "broken_streams": counters.broken_streams,
            "message_errors": counters.message_errors,
        },
    }


def table(summary: dict[str, Any]) -> str:
    """The summary as aligned, readable lines."""
    lines = [f"Simulation finished after {summary['elapsed_seconds']:.0f} s", ""]
    for section in ("deliveries", "offers", "sessions", "retries"):
        lines.append(section)
        lines += [
            f"  {name.replace('_', ' '):<16}{value:>10}" for name, value in summary[section].items()
        ]
    failed = summary["failed_creates"]
    lines.append("failed creates")
    for status, count in failed.items():
        label = f"HTTP {status}" if status.isdigit() else status
        lines.append(f"  {label:<16}{count:>10}")
    if not failed:
        lines.append("  none")
    lines += ["latency (from the create response)", f"  {'':<20}{'count':>8}{'p50':>10}{'p99':>10}"]
    for name, latency in summary["latency_seconds"].items():
        label = name.replace("_", " ").replace("create to ", "create → ")
        lines.append(
            f"  {label:<20}{latency['count']:>8}{seconds(latency['p50']):>10}"
            f"{seconds(latency['p99']):>10}"
        )
    return "\n".join(lines)
