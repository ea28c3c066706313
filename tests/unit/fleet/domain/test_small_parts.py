"""Coalesced positions, the recent-answers cache and the token bucket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.fleet.domain.latest_positions import LatestPositions
from services.fleet.domain.rate_limit import TokenBucket
from services.fleet.domain.recent_answers import RecentAnswers
from services.fleet.domain.values import Fix, datetime_of_ns, ns_of_datetime

T0 = datetime(2030, 5, 1, tzinfo=UTC)


def fix(seconds: float, latitude: float = 52.5) -> Fix:
    return Fix(latitude, 13.4, ns_of_datetime(T0 + timedelta(seconds=seconds)))


def test_only_the_newest_fix_of_each_courier_is_kept_until_taken() -> None:
    positions = LatestPositions(flush_size=10)
    positions.add("a", fix(2, 52.2))
    positions.add("a", fix(1, 52.1))  # older: ignored
    positions.add("b", fix(1))
    taken = positions.take()
    assert (taken["a"].latitude, len(taken)) == (52.2, 2)
    assert positions.take() == {}


def test_a_flush_is_due_once_enough_couriers_moved() -> None:
    positions = LatestPositions(flush_size=2)
    assert not positions.add("a", fix(1))
    assert not positions.add("a", fix(2))
    assert positions.add("b", fix(1))


def test_a_fix_keeps_its_time_in_nanoseconds_and_shows_it_as_a_datetime() -> None:
    moment = datetime(2030, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    recorded = ns_of_datetime(moment)
    assert recorded == 1_903_869_015_123_456_000
    assert Fix(52.5, 13.4, recorded + 789).recorded_at == moment  # truncated to the µs
    assert datetime_of_ns(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert ns_of_datetime(datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) == -1000


def test_recent_answers_forget_the_least_recently_used_first() -> None:
    answers: RecentAnswers[str] = RecentAnswers(capacity=2)
    answers.remember("1", "ack")
    answers.remember("2", "ack")
    assert answers.get("1") == "ack"  # now the most recent
    answers.remember("3", "error")
    assert (answers.get("1"), answers.get("2"), answers.get("3")) == ("ack", None, "error")
    answers.forget("3")
    assert answers.get("3") is None


def test_recent_answers_can_swap_an_answer_in_place_without_using_it() -> None:
    answers: RecentAnswers[str] = RecentAnswers(capacity=2)
    answers.remember("1", "running")
    answers.remember("2", "ack")
    assert answers.peek("1") == "running"  # not a use: "1" is still the oldest
    answers.replace("1", "ack")
    answers.replace("9", "ack")  # not held: nothing to replace
    answers.remember("3", "ack")
    assert (answers.get("1"), answers.get("2"), answers.get("9")) == (None, "ack", None)


def test_a_token_bucket_allows_a_burst_then_the_sustained_rate() -> None:
    bucket = TokenBucket(rate=50, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.02)  # one token back after 1/50 s
    assert not bucket.take(0.02)


def test_a_sender_within_the_rate_is_never_refused() -> None:
    bucket = TokenBucket(rate=50, burst=5, now=0.0)
    assert all(bucket.take(i / 40) for i in range(1000))
