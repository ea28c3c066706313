"""lastmile.common.v1 <-> the shared kernel over generated values: every valid value
round-trips through its message unchanged, and reading any message either gives a value
that writes back to the same message or names what is wrong, never raising."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from lastmile.common.v1 import geo_pb2, parcel_pb2, stop_pb2
from services.contracts import common_v1
from services.runtime.errors import Violations
from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.money import Money
from services.shared_kernel.parcel import MAX_WEIGHT_GRAMS, Parcel, ParcelSize, ServiceLevel
from services.shared_kernel.stop import Contact, Stop

# Printable text: control characters are refused by the contract, not carried by it.
printable = st.characters(blacklist_categories=("Cc", "Cs"))


def text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(printable, min_size=min_size, max_size=max_size).filter(
        lambda value: min_size == 0 or bool(value.strip())
    )


points = st.builds(GeoPoint, st.floats(-90, 90), st.floats(-180, 180))
phones = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)
contacts = st.builds(Contact, text(1, 200), phones)
stops = st.builds(Stop, text(1, 500), points, st.one_of(st.none(), contacts), text(0, 500))
parcels = st.builds(
    Parcel, st.sampled_from(list(ParcelSize)), st.integers(1, MAX_WEIGHT_GRAMS), text(0, 500)
)


@given(stops)
def test_a_stop_round_trips_through_its_message(stop: Stop) -> None:
    violations = Violations()
    read = common_v1.read_stop(
        common_v1.stop_message(stop), True, violations, "pickup", contact_required=False
    )
    assert (read, violations.found) == (stop, [])


@given(parcels, st.sampled_from(list(ServiceLevel)))
def test_a_parcel_and_service_level_round_trip_through_their_messages(
    parcel: Parcel, level: ServiceLevel
) -> None:
    violations = Violations()
    read = common_v1.read_parcel(common_v1.parcel_message(parcel), True, violations, "parcel")
    read_level = common_v1.read_service_level(
        common_v1.service_level_value(level), violations, "service_level"
    )
    assert (read, read_level, violations.found) == (parcel, level, [])


@given(st.integers(-(2**63), 2**63 - 1), st.sampled_from(["EUR", "GBP", "USD"]))
def test_money_round_trips_through_its_message(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    assert common_v1.read_money(common_v1.money_message(money)) == money


@given(st.datetimes(min_value=datetime(1970, 1, 2), timezones=st.just(UTC)))
def test_a_moment_round_trips_through_its_timestamp(moment: datetime) -> None:
    assert common_v1.read_timestamp(common_v1.timestamp_message(moment)) == moment


@given(
    st.text(max_size=600),
    st.floats(),
    st.floats(),
    st.text(max_size=250),
    st.text(max_size=20),
    st.text(max_size=600),
)
def test_reading_any_stop_message_gives_its_value_or_names_each_bad_field(
    address: str, latitude: float, longitude: float, name: str, phone: str, instructions: str
) -> None:
    message = stop_pb2.Stop(
        address=address,
        point=geo_pb2.GeoPoint(latitude=latitude, longitude=longitude),
        contact=stop_pb2.Contact(name=name, phone=phone),
        instructions=instructions,
    )
    violations = Violations()
    read = common_v1.read_stop(message, True, violations, "pickup")
    if read is None:
        assert violations.found
        assert all(v.field.startswith("pickup.") for v in violations.found)
    else:
        assert violations.found == []
        assert common_v1.stop_message(read) == message


@given(st.integers(-5, 10), st.integers(-(2**31), 2**31 - 1), st.text(max_size=600))
def test_reading_any_parcel_message_gives_its_value_or_names_each_bad_field(
    size: int, weight: int, description: str
) -> None:
    message = parcel_pb2.Parcel(size=size, weight_grams=weight, description=description)  # type: ignore[arg-type]
    violations = Violations()
    read = common_v1.read_parcel(message, True, violations, "parcel")
    if read is None:
        assert violations.found
        assert {v.field for v in violations.found} <= {
            "parcel.size",
            "parcel.weight_grams",
            "parcel.description",
        }
    else:
        assert common_v1.parcel_message(read) == message
