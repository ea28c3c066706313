"""The rules a registration must satisfy: a well-formed email, a strong password and a
display name. Each check records violations under the request path it is given."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from services.runtime.errors import Violations

MAX_EMAIL_LENGTH = 254
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
MAX_DISPLAY_NAME_LENGTH = 100
# A shorter local part ("al") would forbid too many ordinary passwords to mean anything.
_MIN_LOCAL_PART_TO_FORBID = 3


@dataclass(frozen=True, slots=True)
class EmailAddress:
    """An email as the user typed it, and the key under which it is unique."""

    as_given: str
    local_part: str
    # Case-insensitive: two spellings that differ only in case are one account.
    key: str

    @classmethod
    def parse(cls, raw: str) -> EmailAddress | None:
        """Syntax only (no DNS); None when the address is malformed or too long."""
        text = raw.strip()
        if not text or len(text) > MAX_EMAIL_LENGTH:
            return None
        try:
            valid = validate_email(text, check_deliverability=False)
        except EmailNotValidError:
            return None
        return cls(as_given=text, local_part=valid.local_part, key=valid.normalized.casefold())

    @classmethod
    def read(cls, raw: str, violations: Violations, path: str) -> EmailAddress | None:
        if not raw.strip():
            violations.add(path, "is required")
            return None
        email = cls.parse(raw)
        if email is None:
            violations.add(path, f"is not a valid email address (at most {MAX_EMAIL_LENGTH} chars)")
        return email


def check_password(
    password: str, email: EmailAddress | None, violations: Violations, path: str
) -> None:
    """Length bounds (OWASP ASVS 2.1), and no password built from the account's email."""
    if len(password) < MIN_PASSWORD_LENGTH:
        violations.add(path, f"must be at least {MIN_PASSWORD_LENGTH} characters")
        return
    if len(password) > MAX_PASSWORD_LENGTH:
        violations.add(path, f"must be at most {MAX_PASSWORD_LENGTH} characters")
        return
    if email is None:
        return
    lowered = password.casefold()
    local = email.local_part.casefold()
    if lowered == email.key or (len(local) >= _MIN_LOCAL_PART_TO_FORBID and local in lowered):
        violations.add(path, "must not contain the email address or its part before the @")


def read_display_name(raw: str, violations: Violations, path: str) -> str | None:
    name = raw.strip()
    if not name:
        violations.add(path, "is required")
        return None
    if len(name) > MAX_DISPLAY_NAME_LENGTH:
        violations.add(path, f"must be at most {MAX_DISPLAY_NAME_LENGTH} characters")
        return None
    if any(unicodedata.category(char) == "Cc" for char in name):
        violations.add(path, "must not contain control characters")
        return None
    return name
