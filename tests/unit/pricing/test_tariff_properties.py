"""The tariff over generated terms: a price is never below the minimum fee (so never
negative), never falls as the distance or the weight grows, express never costs less
than standard, and the lines always add up to the total."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.pricing.domain.tariff import OutOfServiceArea, Tariff
from services.pricing.domain.terms import DeliveryTerms
from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.parcel import MAX_WEIGHT_GRAMS, Parcel, ParcelSize, ServiceLevel

TARIFF = Tariff()
ORIGIN = GeoPoint(52.52, 13.405)
# Northward offsets up to ~70 km great-circle (~90 km by road, inside the service area).
offsets = st.floats(min_value=0, max_value=0.63)
weights = st.integers(1, MAX_WEIGHT_GRAMS)
sizes = st.sampled_from(list(ParcelSize))
levels = st.sampled_from(list(ServiceLevel))


def total(offset: float, size: ParcelSize, weight: int, level: ServiceLevel) -> int:
    terms = DeliveryTerms(
        ORIGIN, GeoPoint(ORIGIN.latitude + offset, ORIGIN.longitude), Parcel(size, weight), level
    )
    priced = TARIFF.price(terms)
    assert sum(line.amount.amount_minor for line in priced.lines) == priced.total.amount_minor
    return priced.total.amount_minor


@given(offsets, sizes, weights, levels)
def test_a_price_is_never_below_the_minimum_fee(
    offset: float, size: ParcelSize, weight: int, level: ServiceLevel
) -> None:
    assert total(offset, size, weight, level) >= TARIFF.minimum_fee > 0


@given(offsets, offsets, sizes, weights, levels)
def test_a_longer_delivery_never_costs_less(
    a: float, b: float, size: ParcelSize, weight: int, level: ServiceLevel
) -> None:
    near, far = sorted((a, b))
    assert total(near, size, weight, level) <= total(far, size, weight, level)


@given(offsets, sizes, weights, weights, levels)
def test_a_heavier_parcel_never_costs_less(
    offset: float, size: ParcelSize, a: int, b: int, level: ServiceLevel
) -> None:
    light, heavy = sorted((a, b))
    assert total(offset, size, light, level) <= total(offset, size, heavy, level)


@given(offsets, sizes, weights)
def test_express_never_costs_less_than_standard(
    offset: float, size: ParcelSize, weight: int
) -> None:
    standard = total(offset, size, weight, ServiceLevel.STANDARD)
    assert standard <= total(offset, size, weight, ServiceLevel.EXPRESS)


@given(st.floats(min_value=0.7, max_value=60), sizes, weights, levels)
def test_beyond_the_service_area_there_is_no_price(
    offset: float, size: ParcelSize, weight: int, level: ServiceLevel
) -> None:
    latitude = ORIGIN.latitude + offset
    assume(latitude <= 90)
    terms = DeliveryTerms(ORIGIN, GeoPoint(latitude, ORIGIN.longitude), Parcel(size, weight), level)
    with pytest.raises(OutOfServiceArea) as refused:
        TARIFF.price(terms)
    assert refused.value.violations
