"""Registration rules that stay in Python, over generated input: reading any text as an
email never raises and gives an address or one violation saying why, an address is one
account whatever its case, and a password within its bounds is refused only for holding
the address."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.identity.domain.credentials import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    EmailAddress,
    check_password,
)
from services.runtime.errors import Violations

local_parts = st.text("abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=30).filter(
    lambda local: not local.startswith(".") and not local.endswith(".") and ".." not in local
)
domains = st.sampled_from(["example.com", "lastmile.dev", "mail.example.org"])
emails = st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains)


def descriptions(violations: Violations, path: str) -> list[str]:
    assert {v.field for v in violations.found} <= {path}
    return [v.description for v in violations.found]


@given(st.text(max_size=300))
def test_any_text_reads_as_an_email_or_as_one_violation(raw: str) -> None:
    violations = Violations()
    email = EmailAddress.read(raw, violations, "account.email")
    assert len(descriptions(violations, "account.email")) == (0 if email else 1)


@given(emails)
def test_an_email_is_one_account_whatever_its_case(address: str) -> None:
    lower, upper = EmailAddress.parse(address), EmailAddress.parse(address.upper())
    assert lower is not None
    assert upper is not None
    assert lower.key == upper.key
    assert lower.as_given == address


@given(emails, st.text(min_size=MIN_PASSWORD_LENGTH, max_size=MAX_PASSWORD_LENGTH))
def test_a_password_within_the_bounds_is_refused_only_for_holding_the_email(
    address: str, password: str
) -> None:
    email = EmailAddress.parse(address)
    assert email is not None
    violations = Violations()
    check_password(password, email, violations, "password")
    local, lowered = email.local_part.casefold(), password.casefold()
    holds_email = lowered == email.key or (len(local) >= 3 and local in lowered)
    assert bool(violations.found) == holds_email


@given(
    st.one_of(
        st.text(max_size=MIN_PASSWORD_LENGTH - 1),
        st.text(min_size=MAX_PASSWORD_LENGTH + 1, max_size=MAX_PASSWORD_LENGTH + 40),
    )
)
def test_a_password_outside_the_bounds_is_refused_for_its_length(password: str) -> None:
    violations = Violations()
    check_password(password, None, violations, "password")
    [description] = descriptions(violations, "password")
    assert "characters" in description


@given(local_parts, st.sampled_from(["shop.test", "localhost", "box.invalid", "a.local"]))
def test_a_short_address_refused_for_its_domain_is_not_told_it_is_too_long(
    local: str, domain: str
) -> None:
    violations = Violations()
    if EmailAddress.read(f"{local}@{domain}", violations, "account.email") is None:
        [description] = descriptions(violations, "account.email")
        assert "254" not in description, description
