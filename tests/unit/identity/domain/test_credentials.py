"""Registration rules: email syntax and case-insensitive keys, password strength, names."""

from __future__ import annotations

import pytest

from services.identity.domain.credentials import EmailAddress, check_password, read_display_name
from services.runtime.errors import Violations


def password_problems(password: str, email: str = "jane.doe@example.com") -> list[str]:
    violations = Violations()
    check_password(password, EmailAddress.parse(email), violations, "password")
    return [v.description for v in violations.found]


def test_emails_that_differ_only_in_case_share_one_key_but_keep_their_spelling() -> None:
    upper = EmailAddress.parse(" Jane.Doe@Example.COM ")
    lower = EmailAddress.parse("jane.doe@example.com")
    assert upper is not None
    assert lower is not None
    assert upper.key == lower.key == "jane.doe@example.com"
    assert upper.as_given == "Jane.Doe@Example.COM"
    assert upper.local_part == "Jane.Doe"


@pytest.mark.parametrize(
    "raw", ["", "no-at-sign", "two@@example.com", "a@b", "x@lastmile.local", "a" * 250 + "@x.io"]
)
def test_malformed_or_overlong_emails_are_violations(raw: str) -> None:
    violations = Violations()
    assert EmailAddress.read(raw, violations, "account.email") is None
    assert [v.field for v in violations.found] == ["account.email"]


def test_a_long_password_unrelated_to_the_email_is_accepted() -> None:
    assert password_problems("correct horse battery staple") == []


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-pw-11", "at least 12"),
        ("x" * 129, "at most 128"),
        ("my-JANE.DOE-password", "must not contain the email"),
        ("Jane.Doe@Example.com", "must not contain the email"),
    ],
)
def test_weak_passwords_are_refused(password: str, problem: str) -> None:
    [description] = password_problems(password)
    assert problem in description


def test_a_very_short_local_part_does_not_forbid_ordinary_passwords() -> None:
    assert password_problems("jo-and-the-long-passphrase", email="jo@example.com") == []


def test_display_names_are_trimmed_and_bounded() -> None:
    violations = Violations()
    assert read_display_name("  Jane  ", violations, "n") == "Jane"
    assert read_display_name("   ", violations, "n") is None
    assert read_display_name("x" * 101, violations, "n") is None
    assert read_display_name("bell\x07", violations, "n") is None
    assert [v.description for v in violations.found] == [
        "is required",
        "must be at most 100 characters",
        "must not contain control characters",
    ]
