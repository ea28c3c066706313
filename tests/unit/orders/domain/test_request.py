"""Delivery request fingerprints and idempotency keys: what binds a key to a request."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lastmile.orders.v1 import orders_pb2
from services.orders.domain.idempotency import IdempotencyKeyReused, IdempotencyRecord
from services.runtime import validation
from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.parcel import Parcel, ParcelSize, ServiceLevel
from services.shared_kernel.stop import Contact
from tests.unit.orders.examples import DROPOFF, PICKUP, REQUEST, request_with
from tests.unit.orders.fakes import NOW


def test_the_same_request_always_has_the_same_fingerprint() -> None:
    assert request_with().fingerprint() == REQUEST.fingerprint()
    assert len(REQUEST.fingerprint()) == 64


def test_a_json_round_trip_of_the_coordinates_keeps_the_fingerprint() -> None:
    noisy = replace(PICKUP, point=GeoPoint(52.5219 + 1e-12, 13.4132 - 1e-12))
    assert request_with(pickup=noisy).fingerprint() == REQUEST.fingerprint()


@pytest.mark.parametrize(
    "changes",
    [
        {"pickup": replace(PICKUP, address="Torstraße 2")},
        {"pickup": replace(PICKUP, point=GeoPoint(52.5220, 13.4132))},
        {"pickup": replace(PICKUP, contact=Contact("Ada", "+4915112345679"))},
        {"dropoff": replace(DROPOFF, instructions="back door")},
        {"dropoff": PICKUP, "pickup": DROPOFF},
        {"parcel": Parcel(ParcelSize.SMALL, 1001)},
        {"parcel": Parcel(ParcelSize.MEDIUM, 1000)},
        {"parcel": Parcel(ParcelSize.SMALL, 1000, "fragile")},
        {"service_level": ServiceLevel.EXPRESS},
        {"quote_id": "quote-7"},
        {"customer_id": "customer-2"},
    ],
    ids=[
        "address", "point", "phone", "instructions", "swapped stops", "weight", "size",
        "description", "service level", "quote", "customer",
    ],
)  # fmt: skip
def test_any_change_the_client_makes_changes_the_fingerprint(changes: dict[str, object]) -> None:
    assert request_with(**changes).fingerprint() != REQUEST.fingerprint()


@pytest.mark.parametrize("key", ["k", "a" * 128, "550e8400-e29b-41d4-a716-446655440000", "a b~!"])
def test_keys_of_1_to_128_printable_ascii_characters_are_accepted(key: str) -> None:
    assert "idempotency_key" not in _contract_violations(key)


@pytest.mark.parametrize("key", ["", "a" * 129, "ключ", "tab\there", "nul\x00"])
def test_empty_long_or_non_printable_keys_are_rejected(key: str) -> None:
    assert "idempotency_key" in _contract_violations(key)


def _contract_violations(key: str) -> set[str]:
    """The fields an import item with `key` gets wrong, by the contract's rules."""
    error = validation.REQUESTS.error(orders_pb2.ImportDeliveriesRequest(idempotency_key=key))
    assert error is not None  # the item has no delivery
    return {violation.field for violation in error.violations}


def test_a_record_replays_its_delivery_only_for_the_same_request() -> None:
    record = IdempotencyRecord("owner", "key-1", REQUEST.fingerprint(), "d-1", NOW)
    assert record.replay_for(REQUEST.fingerprint()) == "d-1"
    with pytest.raises(IdempotencyKeyReused) as reused:
        record.replay_for(request_with(quote_id="quote-9").fingerprint())
    assert reused.value.reason == "IDEMPOTENCY_KEY_REUSED"
    assert reused.value.metadata == {"idempotency_key": "key-1"}
