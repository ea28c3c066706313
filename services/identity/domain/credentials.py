"""The rules of a registration that the contract's field rules cannot state: a
well-formed email and a password not built from it. Each check records violations
under the request path it is given."""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from services.runtime.errors import Violations

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
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
        """Syntax only (no DNS); None when the address is malformed."""
        try:
            return cls._validated(raw)
        except EmailNotValidError:
            return None

    @classmethod
    def read(cls, raw: str, violations: Violations, path: str) -> EmailAddress | None:
        """The address, or None after recording why email_validator refused it. The
        contract checks the field's shape (required, at most 254 characters, an email
        address); the special-use domains of RFC 6761 (".test", ".invalid", ...) and the
        finer points of RFC 5321 are email_validator's to judge, which no field rule can
        say."""
        try:
            return cls._validated(raw)
        except EmailNotValidError as invalid:
            violations.add(path, f"is not a valid email address: {invalid}")
            return None

    @classmethod
    def _validated(cls, raw: str) -> EmailAddress:
        text = raw.strip()
        valid = validate_email(text, check_deliverability=False)
        return cls(as_given=text, local_part=valid.local_part, key=valid.normalized.casefold())


def check_password(
    password: str, email: EmailAddress | None, violations: Violations, path: str
) -> None:
    """Length bounds (OWASP ASVS 2.1), and no password built from the account's email.
    For the ops password of the configuration, which no contract rule covers."""
    if len(password) < MIN_PASSWORD_LENGTH:
        violations.add(path, f"must be at least {MIN_PASSWORD_LENGTH} characters")
        return
    if len(password) > MAX_PASSWORD_LENGTH:
        violations.add(path, f"must be at most {MAX_PASSWORD_LENGTH} characters")
        return
    check_password_is_not_the_email(password, email, violations, path)


def check_password_is_not_the_email(
    password: str, email: EmailAddress | None, violations: Violations, path: str
) -> None:
    """A rule across two fields, so no field rule of the contract can say it."""
    if email is None:
        return
    lowered = password.casefold()
    local = email.local_part.casefold()
    if lowered == email.key or (len(local) >= _MIN_LOCAL_PART_TO_FORBID and local in lowered):
        violations.add(path, "must not contain the email address or its part before the @")


def read_display_name(raw: str) -> str:
    """The name as shown: without surrounding whitespace. Its rules (1 to 100
    characters, not blank, no control characters) are the contract's."""
    return raw.strip()
