"""What a courier carries and how fast: parcel size classes, weights and service levels."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.runtime.errors import Violations

MAX_WEIGHT_GRAMS = 30_000
MAX_DESCRIPTION_LENGTH = 500


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
    """A parcel's size class, weight and a note for the courier."""

    size: ParcelSize
    weight_grams: int
    description: str = ""

    def __post_init__(self) -> None:
        violations = Violations()
        self.check_weight(self.weight_grams, violations)
        self.check_description(self.description, violations)
        violations.raise_if_any()

    @staticmethod
    def check_weight(weight_grams: int, violations: Violations) -> None:
        violations.check(weight_grams > 0, "weight_grams", "must be greater than zero")
        violations.check(
            weight_grams <= MAX_WEIGHT_GRAMS,
            "weight_grams",
            f"must be at most {MAX_WEIGHT_GRAMS} (30 kg)",
        )

    @staticmethod
    def check_description(description: str, violations: Violations) -> None:
        violations.check(
            len(description) <= MAX_DESCRIPTION_LENGTH,
            "description",
            f"must be at most {MAX_DESCRIPTION_LENGTH} characters",
        )
