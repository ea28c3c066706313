"""lastmile.common.v1 <-> the shared kernel over generated values: every value
round-trips through its message unchanged, and every message the contract's rules admit
reads into a value (the domain refuses nothing the contract lets through) that writes
back to the same message."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import event, given
from hypothesis import strategies as st

from lastmile.common.v1 import geo_pb2, parcel_pb2, stop_pb2
from services.contracts import common_v1
from services.runtime.validation import REQUESTS
from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.money import Money
from services.shared_kernel.parcel import MAX_WEIGHT_GRAMS, Parcel, ParcelSize, ServiceLevel
from services.shared_kernel.stop import Contact, Stop

points = st.builds(GeoPoint, st.floats(-90, 90), st.floats(-180, 180))
contacts = st.builds(Contact, st.text(max_size=50), st.text(max_size=20))
stops = st.builds(Stop, st.text(max_size=80), points, st.none() | contacts, st.text(max_size=80))
parcels = st.builds(
    Parcel, st.sampled_from(list(ParcelSize)), st.integers(1, MAX_WEIGHT_GRAMS), st.text()
)
# Hostile values for any field: blank, control characters and NUL, too long, not a
# number at all.
texts = st.text(max_size=30) | st.text(min_size=190, max_size=520)
anything = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def stop_messages(draw: st.DrawFn) -> stop_pb2.Stop:
    """A stop the contract admits, with none, one or two of its fields made hostile."""
    message = stop_pb2.Stop(
        address="Alexanderplatz 1, Berlin",
        point=geo_pb2.GeoPoint(latitude=draw(st.floats(-90, 90)), longitude=13.4),
        contact=stop_pb2.Contact(name="Ada Lovelace", phone="+4915112345678"),
        instructions="ring twice",
    )
    fields = ["address", "latitude", "longitude", "name", "phone", "instructions", "contact"]
    for broken in draw(st.sets(st.sampled_from(fields), max_size=2)):
        if broken in ("latitude", "longitude"):
            setattr(message.point, broken, draw(anything))
        elif broken in ("name", "phone"):
            setattr(message.contact, broken, draw(texts))
        elif broken == "contact":
            message.ClearField("contact")
        else:
            setattr(message, broken, draw(texts))
    return message


@given(stops)
def test_a_stop_round_trips_through_its_message(stop: Stop) -> None:
    assert common_v1.read_stop(common_v1.stop_message(stop)) == stop


@given(parcels, st.sampled_from(list(ServiceLevel)))
def test_a_parcel_and_service_level_round_trip_through_their_messages(
    parcel: Parcel, level: ServiceLevel
) -> None:
    assert common_v1.read_parcel(common_v1.parcel_message(parcel)) == parcel
    assert common_v1.read_service_level(common_v1.service_level_value(level)) == level


@given(st.integers(-(2**63), 2**63 - 1), st.sampled_from(["EUR", "GBP", "USD"]))
def test_money_round_trips_through_its_message(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    assert common_v1.read_money(common_v1.money_message(money)) == money


@given(st.datetimes(min_value=datetime(1970, 1, 2), timezones=st.just(UTC)))
def test_a_moment_round_trips_through_its_timestamp(moment: datetime) -> None:
    assert common_v1.read_timestamp(common_v1.timestamp_message(moment)) == moment


@given(stop_messages())
def test_a_stop_the_contract_admits_reads_and_writes_back_unchanged(
    message: stop_pb2.Stop,
) -> None:
    admitted = REQUESTS.error(message) is None
    event("admitted" if admitted else "refused by the contract")
    if admitted:
        assert common_v1.stop_message(common_v1.read_stop(message)) == message


@given(
    st.integers(-2, 6),
    st.integers(1, MAX_WEIGHT_GRAMS) | st.integers(-(2**31), 2**31 - 1),
    st.just("books") | texts,
)
def test_a_parcel_the_contract_admits_reads_and_writes_back_unchanged(
    size: int, weight: int, description: str
) -> None:
    message = parcel_pb2.Parcel(size=size, weight_grams=weight, description=description)  # type: ignore[arg-type]
    admitted = REQUESTS.error(message) is None
    event("admitted" if admitted else "refused by the contract")
    if admitted:
        assert common_v1.parcel_message(common_v1.read_parcel(message)) == message
