"""Stops: where a courier collects or hands over a parcel, and whom they meet there."""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.runtime.errors import Violations
from services.shared_kernel.geo import GeoPoint

MAX_NAME_LENGTH = 200
MAX_ADDRESS_LENGTH = 500
MAX_INSTRUCTIONS_LENGTH = 500
# E.164: a plus, a non-zero country code digit, at most 15 digits in all.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


@dataclass(frozen=True, slots=True)
class Contact:
    """The person a courier meets at a stop, reachable by phone."""

    name: str
    phone: str

    def __post_init__(self) -> None:
        violations = Violations()
        self.check(self.name, self.phone, violations)
        violations.raise_if_any()

    @staticmethod
    def check(name: str, phone: str, violations: Violations) -> None:
        violations.check(bool(name.strip()), "name", "is required")
        violations.check(
            len(name) <= MAX_NAME_LENGTH, "name", f"must be at most {MAX_NAME_LENGTH} characters"
        )
        violations.check(
            _E164.fullmatch(phone) is not None,
            "phone",
            'must be an E.164 number such as "+4915112345678"',
        )


@dataclass(frozen=True, slots=True)
class Stop:
    """An address as people read it, the point that pricing and matching use, and
    (except in offers to couriers) the contact to meet."""

    address: str
    point: GeoPoint
    contact: Contact | None = None
    instructions: str = ""

    def __post_init__(self) -> None:
        violations = Violations()
        self.check_address(self.address, violations)
        self.check_instructions(self.instructions, violations)
        violations.raise_if_any()

    @staticmethod
    def check_address(address: str, violations: Violations) -> None:
        violations.check(bool(address.strip()), "address", "is required")
        violations.check(
            len(address) <= MAX_ADDRESS_LENGTH,
            "address",
            f"must be at most {MAX_ADDRESS_LENGTH} characters",
        )

    @staticmethod
    def check_instructions(instructions: str, violations: Violations) -> None:
        violations.check(
            len(instructions) <= MAX_INSTRUCTIONS_LENGTH,
            "instructions",
            f"must be at most {MAX_INSTRUCTIONS_LENGTH} characters",
        )
