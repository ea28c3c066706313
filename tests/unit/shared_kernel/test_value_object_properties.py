"""Properties of the shared value objects over generated inputs: money is exact integer
arithmetic within one currency, points exist only inside WGS84 bounds and their distance
is a metric, parcels exist only within their weight limits (the domain's invariants;
the request rules are the contract's)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.runtime.errors import InvalidArgument
from services.shared_kernel.geo import EARTH_RADIUS_METERS, GeoPoint
from services.shared_kernel.money import CurrencyMismatch, Money
from services.shared_kernel.parcel import MAX_WEIGHT_GRAMS, Parcel, ParcelSize

currencies = st.sampled_from(["EUR", "GBP", "USD"])
amounts = st.integers(min_value=-(10**15), max_value=10**15)
latitudes = st.floats(min_value=-90, max_value=90)
longitudes = st.floats(min_value=-180, max_value=180)
points = st.builds(GeoPoint, latitudes, longitudes)
sizes = st.sampled_from(list(ParcelSize))


@given(amounts, amounts, amounts, currencies)
def test_money_adds_exactly_and_subtraction_undoes_addition(
    a: int, b: int, c: int, currency: str
) -> None:
    x, y, z = Money(a, currency), Money(b, currency), Money(c, currency)
    assert (x + y) + z == x + (y + z)
    assert x + y == y + x
    assert (x + y) - y == x
    assert x + Money.zero(currency) == x


@given(amounts, amounts, currencies, currencies)
def test_money_of_two_currencies_never_combines(a: int, b: int, first: str, second: str) -> None:
    if first == second:
        return
    with pytest.raises(CurrencyMismatch):
        Money(a, first) + Money(b, second)
    with pytest.raises(CurrencyMismatch):
        Money(a, first) - Money(b, second)


@given(points, points, points)
def test_distance_is_a_metric_bounded_by_half_the_earth(
    a: GeoPoint, b: GeoPoint, c: GeoPoint
) -> None:
    assert a.distance_meters(a) == 0
    assert a.distance_meters(b) == pytest.approx(b.distance_meters(a), abs=1e-6)
    assert 0 <= a.distance_meters(b) <= math.pi * EARTH_RADIUS_METERS + 1e-6
    # Triangle inequality, with a metre of room: haversine's asin loses precision near
    # antipodal points (about 0.1 m there; a courier is never half a globe away).
    assert a.distance_meters(c) <= a.distance_meters(b) + b.distance_meters(c) + 1.0


@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).filter(
            lambda v: not (math.isfinite(v) and -90 <= v <= 90)
        ),
    ),
    longitudes,
)
def test_a_latitude_outside_the_globe_is_refused_naming_the_field(
    latitude: float, longitude: float
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        GeoPoint(latitude, longitude)
    assert [v.field for v in refused.value.violations] == ["latitude"]


@given(
    latitudes,
    st.floats(allow_nan=True, allow_infinity=True).filter(
        lambda v: not (math.isfinite(v) and -180 <= v <= 180)
    ),
)
def test_a_longitude_outside_the_globe_is_refused_naming_the_field(
    latitude: float, longitude: float
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        GeoPoint(latitude, longitude)
    assert [v.field for v in refused.value.violations] == ["longitude"]


@given(sizes, st.integers(1, MAX_WEIGHT_GRAMS), st.text(max_size=600))
def test_a_parcel_within_its_limits_is_kept_as_given(
    size: ParcelSize, weight: int, description: str
) -> None:
    parcel = Parcel(size, weight, description)
    assert (parcel.size, parcel.weight_grams, parcel.description) == (size, weight, description)


@given(
    sizes,
    st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_WEIGHT_GRAMS + 1)),
)
def test_a_parcel_outside_the_weight_limits_is_refused_naming_the_weight(
    size: ParcelSize, weight: int
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        Parcel(size, weight)
    assert [v.field for v in refused.value.violations] == ["weight_grams"]
