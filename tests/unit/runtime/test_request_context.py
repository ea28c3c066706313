"""Request ids the runtime makes for calls that arrive without one."""

from __future__ import annotations

import re

from services.runtime.interceptors.request_context import new_request_id


def test_a_generated_request_id_is_32_hex_digits_and_none_repeats() -> None:
    made = [new_request_id() for _ in range(10_000)]
    assert all(re.fullmatch("[0-9a-f]{32}", request_id) for request_id in made)
    assert len(set(made)) == len(made)
