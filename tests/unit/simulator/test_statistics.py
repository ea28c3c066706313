"""Percentiles (nearest rank), bounded latency samples, and the delivery ledger."""

from __future__ import annotations

import random

import pytest

from services.simulator.ledger import DeliveryLedger
from services.simulator.statistics import LatencySamples, percentile


def test_the_nearest_rank_percentile_is_an_observed_sample() -> None:
    samples = [float(n) for n in range(1, 101)]
    random.Random(5).shuffle(samples)
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 99) == 99.0
    assert percentile(samples, 100) == 100.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([7.0], 99) == 7.0


def test_no_samples_have_no_percentile() -> None:
    assert percentile([], 50) is None


@pytest.mark.parametrize("percent", [0, -1, 101])
def test_a_percent_outside_0_to_100_is_refused(percent: float) -> None:
    with pytest.raises(ValueError, match="percent"):
        percentile([1.0], percent)


def test_samples_beyond_the_cap_are_counted_but_memory_stays_bounded() -> None:
    samples = LatencySamples(cap=100, rng=random.Random(1))
    for n in range(10_000):
        samples.add(n / 10_000)
    summary = samples.summary()
    assert (summary.count, samples.kept) == (10_000, 100)
    assert summary.p50 is not None
    assert 0.3 < summary.p50 < 0.7  # a uniform sample of a uniform spread


def test_the_first_offer_and_the_first_assignment_give_the_latencies() -> None:
    ledger = DeliveryLedger()
    ledger.created("d1", at=10.0)
    ledger.offered("d1", at=10.5)
    ledger.offered("d1", at=12.0)  # a re-offer after a decline does not count again
    ledger.assigned("d1", at=13.0)
    assert ledger.to_offer.summary().p50 == 0.5
    assert ledger.to_offer.count == 1
    assert ledger.to_assignment.summary().p50 == 3.0
    ledger.finished("d1")
    assert ledger.open_count == 0


def test_an_offer_that_overtakes_the_create_response_counts_as_zero() -> None:
    ledger = DeliveryLedger()
    ledger.offered("d1", at=10.0)
    ledger.created("d1", at=10.2)
    assert (ledger.to_offer.count, ledger.to_offer.percentile(50)) == (1, 0.0)
    assert ledger.to_assignment.count == 0


def test_deliveries_of_other_runs_never_produce_a_latency() -> None:
    ledger = DeliveryLedger(open_cap=20)
    for n in range(100):
        ledger.offered(f"old-{n}", at=1.0)
        ledger.assigned(f"old-{n}", at=2.0)
    assert (ledger.to_offer.count, ledger.to_assignment.count, ledger.open_count) == (0, 0, 0)


def test_the_open_deliveries_are_bounded() -> None:
    ledger = DeliveryLedger(open_cap=10)
    for n in range(25):
        ledger.created(f"d{n}", at=float(n))
    assert (ledger.open_count, ledger.untracked) == (10, 15)
