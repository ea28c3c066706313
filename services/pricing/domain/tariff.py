"""The tariff: deterministic rules that turn delivery terms into price lines."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from services.pricing.domain.terms import DeliveryTerms
from services.runtime.errors import FieldViolation, InvalidArgument
from services.shared_kernel.money import Money
from services.shared_kernel.parcel import ParcelSize, ServiceLevel


class PriceComponent(StrEnum):
    """The kinds of line a price is made of, in the order they are applied."""

    BASE_FEE = "base_fee"
    DISTANCE = "distance"
    SIZE_SURCHARGE = "size_surcharge"
    WEIGHT_SURCHARGE = "weight_surcharge"
    EXPRESS = "express"
    MINIMUM_FEE_ADJUSTMENT = "minimum_fee_adjustment"


@dataclass(frozen=True, slots=True)
class PriceLine:
    """One line of a price breakdown."""

    component: PriceComponent
    amount: Money


@dataclass(frozen=True, slots=True)
class Pricing:
    """The outcome of applying a tariff: the lines, their total and the road distance."""

    lines: tuple[PriceLine, ...]
    total: Money
    distance_meters: int


class OutOfServiceArea(InvalidArgument):
    """Pickup and dropoff are further apart than the tariff serves."""

    def __init__(self, distance_meters: int, limit_meters: int) -> None:
        super().__init__(
            [
                FieldViolation(
                    "terms.dropoff",
                    f"is {distance_meters / 1000:.1f} km by road from pickup; "
                    f"the service area allows at most {limit_meters / 1000:.0f} km",
                )
            ],
            reason="OUT_OF_SERVICE_AREA",
        )


def _default_size_surcharges() -> dict[ParcelSize, int]:
    return {
        ParcelSize.SMALL: 0,
        ParcelSize.MEDIUM: 100,
        ParcelSize.LARGE: 300,
        ParcelSize.EXTRA_LARGE: 800,
    }


@dataclass(frozen=True)
class Tariff:
    """Base fee + per-km charge on great-circle distance x road factor + size and
    weight surcharges, times the express multiplier, lifted to the minimum fee.

    Amounts are minor units of `currency`; each line is rounded half-to-even once.
    """

    currency: str = "EUR"
    base_fee: int = 250
    per_km: int = 120
    road_factor: Decimal = Decimal("1.3")
    size_surcharges: dict[ParcelSize, int] = field(default_factory=_default_size_surcharges)
    included_weight_grams: int = 5_000
    per_started_kg_above: int = 40
    express_multiplier: Decimal = Decimal("1.5")
    minimum_fee: int = 500
    max_road_distance_meters: int = 100_000

    def _money(self, amount: Decimal | int) -> Money:
        rounded = Decimal(amount).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        return Money(int(rounded), self.currency)

    def road_distance_meters(self, terms: DeliveryTerms) -> int:
        great_circle = Decimal(terms.pickup.distance_meters(terms.dropoff))
        return int((great_circle * self.road_factor).quantize(Decimal(1), ROUND_HALF_EVEN))

    def price(self, terms: DeliveryTerms) -> Pricing:
        distance = self.road_distance_meters(terms)
        if distance > self.max_road_distance_meters:
            raise OutOfServiceArea(distance, self.max_road_distance_meters)
        lines = [
            PriceLine(PriceComponent.BASE_FEE, self._money(self.base_fee)),
            PriceLine(PriceComponent.DISTANCE, self._money(Decimal(distance) * self.per_km / 1000)),
        ]
        size_surcharge = self.size_surcharges[terms.parcel.size]
        if size_surcharge:
            lines.append(PriceLine(PriceComponent.SIZE_SURCHARGE, self._money(size_surcharge)))
        excess_grams = terms.parcel.weight_grams - self.included_weight_grams
        if excess_grams > 0:
            started_kg = math.ceil(excess_grams / 1000)
            lines.append(
                PriceLine(
                    PriceComponent.WEIGHT_SURCHARGE,
                    self._money(started_kg * self.per_started_kg_above),
                )
            )
        subtotal = sum((line.amount.amount_minor for line in lines), 0)
        if terms.service_level is ServiceLevel.EXPRESS:
            extra = Decimal(subtotal) * (self.express_multiplier - 1)
            lines.append(PriceLine(PriceComponent.EXPRESS, self._money(extra)))
        total = sum((line.amount.amount_minor for line in lines), 0)
        if total < self.minimum_fee:
            lines.append(
                PriceLine(
                    PriceComponent.MINIMUM_FEE_ADJUSTMENT, self._money(self.minimum_fee - total)
                )
            )
            total = self.minimum_fee
        return Pricing(tuple(lines), Money(total, self.currency), distance)
