"""Registration rules over generated input: reading any text as an email, a password or
a display name never raises, records at most one violation under the given path, and
accepts exactly what the rules allow."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from services.identity.domain.credentials import (
    MAX_DISPLAY_NAME_LENGTH,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    EmailAddress,
    check_password,
    read_display_name,
)
from services.runtime.errors import Violations

local_parts = st.text("abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=30).filter(
    lambda local: not local.startswith(".") and not local.endswith(".") and ".." not in local
)
domains = st.sampled_from(["example.com", "lastmile.dev", "mail.example.org"])
emails = st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains)


def violations_of(read: object) -> list[str]:
    assert isinstance(read, Violations)
    assert {v.field for v in read.found} <= {"account.email", "password", "display_name"}
    return [v.description for v in read.found]


@given(st.text(max_size=300))
def test_any_text_reads_as_an_email_or_as_one_violation(raw: str) -> None:
    violations = Violations()
    email = EmailAddress.read(raw, violations, "account.email")
    assert (email is None) == (len(violations_of(violations)) == 1)
    assert len(violations.found) <= 1


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
    local = email.local_part.casefold()
    holds_email = password.casefold() == email.key or (
        len(local) >= 3 and local in password.casefold()
    )
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
    [description] = violations_of(violations)
    assert "characters" in description


@given(st.text(max_size=MAX_DISPLAY_NAME_LENGTH + 20))
def test_a_display_name_is_kept_stripped_or_refused_with_the_reason(raw: str) -> None:
    violations = Violations()
    name = read_display_name(raw, violations, "display_name")
    stripped = raw.strip()
    allowed = 0 < len(stripped) <= MAX_DISPLAY_NAME_LENGTH and not any(
        unicodedata.category(char) == "Cc" for char in stripped
    )
    assert (name == stripped) if allowed else (name is None and len(violations.found) == 1)


@given(local_parts, st.sampled_from(["shop.test", "localhost", "box.invalid", "a.local"]))
def test_a_short_address_refused_for_its_domain_is_not_told_it_is_too_long(
    local: str, domain: str
) -> None:
    violations = Violations()
    email = EmailAddress.read(f"{local}@{domain}", violations, "account.email")
    if email is None:
        [description] = violations_of(violations)
        assert "254" not in description, description
