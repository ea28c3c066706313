"""The tariff's rules, line by line, with amounts worked out by hand."""

from __future__ import annotations

import pytest

from services.pricing.domain.tariff import OutOfServiceArea, PriceComponent, Tariff
from services.pricing.domain.terms import DeliveryTerms
from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.parcel import Parcel, ParcelSize, ServiceLevel

ALEXANDERPLATZ = GeoPoint(52.5219, 13.4132)
# 0.01 degrees of latitude north: 1111.95 m great-circle, 1445.5 m by road (x1.3).
ONE_KM_NORTH = GeoPoint(52.5319, 13.4132)


def terms(
    dropoff: GeoPoint = ONE_KM_NORTH,
    size: ParcelSize = ParcelSize.SMALL,
    weight: int = 1000,
    level: ServiceLevel = ServiceLevel.STANDARD,
) -> DeliveryTerms:
    return DeliveryTerms(ALEXANDERPLATZ, dropoff, Parcel(size, weight), level)


def amounts(pricing_lines: tuple[object, ...]) -> dict[str, int]:
    return {line.component.value: line.amount.amount_minor for line in pricing_lines}  # type: ignore[attr-defined]


def test_a_short_small_standard_delivery_is_lifted_to_the_minimum_fee() -> None:
    priced = Tariff().price(terms())
    # base 250 + 1446 m (road, whole metres) x 120 / km = 173.52 -> 174; 424 < 500 minimum.
    assert amounts(priced.lines) == {
        "base_fee": 250,
        "distance": 174,
        "minimum_fee_adjustment": 76,
    }
    assert priced.total.amount_minor == 500
    assert priced.distance_meters == 1446


def test_size_weight_and_express_are_applied_in_order() -> None:
    priced = Tariff().price(terms(size=ParcelSize.LARGE, weight=7_200, level=ServiceLevel.EXPRESS))
    # 250 + 174 + 300 (large) + 3 started kg above 5 kg x 40 = 844; express +50% = 422.
    assert [line.component for line in priced.lines] == [
        PriceComponent.BASE_FEE,
        PriceComponent.DISTANCE,
        PriceComponent.SIZE_SURCHARGE,
        PriceComponent.WEIGHT_SURCHARGE,
        PriceComponent.EXPRESS,
    ]
    assert amounts(priced.lines)["weight_surcharge"] == 120
    assert amounts(priced.lines)["express"] == 422
    assert priced.total.amount_minor == 1266


def test_the_lines_always_add_up_to_the_total() -> None:
    for size in ParcelSize:
        for level in ServiceLevel:
            priced = Tariff().price(terms(GeoPoint(52.40, 13.10), size, 12_345, level))
            assert sum(line.amount.amount_minor for line in priced.lines) == (
                priced.total.amount_minor
            )


def test_the_same_terms_always_get_the_same_price() -> None:
    assert Tariff().price(terms()) == Tariff().price(terms())


def test_a_dropoff_beyond_the_service_radius_is_refused_naming_the_dropoff() -> None:
    with pytest.raises(OutOfServiceArea) as refused:
        Tariff().price(terms(dropoff=GeoPoint(53.55, 9.99)))  # Hamburg
    assert refused.value.reason == "OUT_OF_SERVICE_AREA"
    assert [v.field for v in refused.value.violations] == ["terms.dropoff"]


def test_the_currency_is_the_tariffs() -> None:
    assert Tariff(currency="CHF").price(terms()).total.currency == "CHF"
