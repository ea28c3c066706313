"""What a courier carries and how fast: parcel size classes, weights and service levels."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.runtime.errors import Violations

MAX_WEIGHT_GRAMS = 30_000


class ParcelSize(StrEnum):
    """Size classes, from pocket-sized to van-sized."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    EXTRA_LARGE = "extra_large"


class ServiceLevel(StrEnum):
    """Standard same-day delivery, or express direct delivery."""

    STANDARD = "standard"
    EXPRESS = "express"


@dataclass(frozen=True, slots=True)
class Parcel:
    """A parcel's size class, weight and a note for the courier. The weight is a domain
    invariant (what a courier may carry; pricing's weight surcharge assumes it); the
    note's rules (length, no control characters) are the contract's."""

    size: ParcelSize
    weight_grams: int
    description: str = ""

    def __post_init__(self) -> None:
        violations = Violations()
        self.check_weight(self.weight_grams, violations)
        violations.raise_if_any()

    @staticmethod
    def check_weight(weight_grams: int, violations: Violations) -> None:
        violations.check(weight_grams > 0, "weight_grams", "must be greater than zero")
        violations.check(
            weight_grams <= MAX_WEIGHT_GRAMS,
            "weight_grams",
            f"must be at most {MAX_WEIGHT_GRAMS} (30 kg)",
        )
