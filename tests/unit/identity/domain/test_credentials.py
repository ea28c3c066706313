"""Registration rules: email syntax and case-insensitive keys, password strength, names."""

from __future__ import annotations

import pytest

from lastmile.identity.v1 import identity_pb2
from services.identity.domain.credentials import EmailAddress, check_password, read_display_name
from services.runtime import validation
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


def test_display_names_are_trimmed() -> None:
    assert read_display_name("  Jane  ") == "Jane"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "is required"),
        ("   ", "must not be blank"),
        ("x" * 101, "must be at most 100 characters"),
        ("bell\x07", "must not contain control characters"),
        ("nul\x00", "must not contain control characters"),
    ],
)
def test_the_contract_bounds_display_names(name: str, why: str) -> None:
    request = identity_pb2.CreateAccountRequest(
        account=identity_pb2.Account(
            email="jane@example.com", display_name=name, role=identity_pb2.ROLE_CUSTOMER
        ),
        password="a long enough password",
    )
    error = validation.REQUESTS.error(request)
    assert error is not None
    assert [(v.field, v.description) for v in error.violations] == [("account.display_name", why)]


def test_a_reserved_domain_is_refused_for_what_it_is() -> None:
    violations = Violations()
    assert EmailAddress.read("jane@example.test", violations, "account.email") is None
    [violation] = violations.found
    assert violation.field == "account.email"
    assert "special-use or reserved name" in violation.description
    assert "254" not in violation.description
